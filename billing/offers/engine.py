# Over 400 lines: the pure offer engine (profile, eligibility, re-rating, savings, the reason in the customer's words) has no ORM and is tested as one unit.
"""The offer engine: usage profile, eligibility, re-rating under a candidate, saving, reason, ranking.

No ORM here: the services load an organization's periods with ``billing.statements.services
.period_usage_load`` (the very loader the billing run uses) and hand them in. A candidate is priced by
re-rating those periods with ``period_usage_rate(..., overlay=...)`` (the very rating the billing run
uses) and rounding each would-be statement line once, exactly as a statement does. So the saving we
state is, to the cent, the difference between the organization's statements and the same statements
re-rated with the offer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.dates import format_interval
from django.conf import settings
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from billing.formatting import Formatter, locale_of
from billing.money import money
from billing.rating.engine import PlanTerms
from billing.rating.pipeline import PeriodUsage, RatedPeriod, period_usage_rate

# The reason is written in the organization's statement language (the services activate it with
# translation.override); these are its words (billing/locale, block "Offer reasons").
ZONE_NAMES = {
    "EU": gettext_lazy("Europe"),
    "NA": gettext_lazy("North America"),
    "APAC": gettext_lazy("Asia-Pacific"),
    "ROW": gettext_lazy("the rest of the world"),
}
CATEGORY_PHRASES = {
    "local": gettext_lazy("local calls"),
    "national": gettext_lazy("national calls"),
    "mobile": gettext_lazy("calls to mobiles"),
    "toll_free": gettext_lazy("toll-free calls"),
    "premium": gettext_lazy("premium-rate calls"),
    "internal": gettext_lazy("internal calls"),
    "other": gettext_lazy("other calls"),
}
# The retention signal: minutes falling by at least this much from the first to the last month, or more
# lines switched off than added. Simple on purpose: staff and customers can check it against their statements.
RETENTION_TREND_PERCENT = Decimal(-15)
TWO = Decimal("0.01")


def _d(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --- Profile --------------------------------------------------------------------------------------


@dataclass
class Profile:
    """What an organization's recent usage looks like (built only with its consent)."""

    months: int
    period_start: date
    period_end: date
    minutes_by_month: list[Decimal]
    minutes_by_key: dict[tuple[str, str], Decimal]  # (category, zone) -> outbound billable minutes
    minutes_by_country: dict[tuple[str, str], dict[str, Decimal]]  # (category, zone) -> country -> minutes
    minutes_by_location: dict[int | None, Decimal]
    minutes_by_person: dict[int | None, Decimal]
    usage_cost_total: Decimal  # rounded lines, as on the statements
    overage_total: Decimal  # charged usage of kinds an allowance of the plan covers (the allowance ran out)
    lines_active: int
    lines_added: int
    lines_removed: int

    @property
    def minutes_total(self) -> Decimal:
        return sum(self.minutes_by_key.values(), Decimal(0))

    @property
    def trend_percent(self) -> Decimal:
        if len(self.minutes_by_month) < 2 or not self.minutes_by_month[0]:
            return Decimal(0)
        first, last = self.minutes_by_month[0], self.minutes_by_month[-1]
        return ((last - first) / first * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)

    def per_month(self, value: Decimal) -> Decimal:
        return (value / self.months).quantize(TWO, ROUND_HALF_UP) if self.months else Decimal(0)

    def metrics(self) -> dict[str, Decimal]:
        """The values eligibility conditions may test (see billing.models.offers.ELIGIBILITY_METRICS)."""
        values = {
            "minutes_per_month": self.per_month(self.minutes_total),
            "usage_cost_per_month": self.per_month(self.usage_cost_total),
            "overage_per_month": self.per_month(self.overage_total),
            "trend_percent": self.trend_percent,
            "lines_active": Decimal(self.lines_active),
            "lines_added": Decimal(self.lines_added),
            "lines_removed": Decimal(self.lines_removed),
        }
        by_category: dict[str, Decimal] = defaultdict(Decimal)
        for (category, zone), minutes in self.minutes_by_key.items():
            by_category[category] += minutes
            if zone:
                values[f"minutes_per_month.{category}.{zone}"] = self.per_month(minutes)
        for category, minutes in by_category.items():
            values[f"minutes_per_month.{category}"] = self.per_month(minutes)
        return values

    def retention_signal(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.trend_percent <= RETENTION_TREND_PERCENT:
            reasons.append(
                _("your call minutes fell by %(percent)s %% from the first to the last month")
                % {"percent": abs(self.trend_percent)}
            )
        if self.lines_removed > self.lines_added:  # lines replaced by new ones are not a sign of leaving
            text = ngettext(
                "%(count)s line was switched off", "%(count)s lines were switched off", self.lines_removed
            ) % {"count": self.lines_removed}
            if self.lines_added:
                text += _(" and only %(count)s added") % {"count": self.lines_added}
            reasons.append(text)
        return bool(reasons), reasons

    def as_json(self, names: dict[str, dict]) -> dict:
        def top(values: dict, kind: str) -> list:
            rows = sorted(values.items(), key=lambda item: (-item[1], str(item[0])))[:5]
            return [{"name": names[kind].get(key, "—"), "minutes": str(minutes.quantize(TWO))} for key, minutes in rows]

        return {
            "months": self.months,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "minutes_by_month": [str(m.quantize(TWO)) for m in self.minutes_by_month],
            "minutes_by_destination": {
                f"{category}{'.' + zone if zone else ''}": str(m.quantize(TWO))
                for (category, zone), m in sorted(self.minutes_by_key.items())
            },
            "top_locations": top(self.minutes_by_location, "location"),
            "top_persons": top(self.minutes_by_person, "person"),
            "usage_cost_total": str(self.usage_cost_total),
            "overage_total": str(self.overage_total),
            "trend_percent": str(self.trend_percent),
            "lines_active": self.lines_active,
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "metrics": {k: str(v) for k, v in sorted(self.metrics().items())},
        }


def profile_build(
    *,
    currency: str,
    periods: list[PeriodUsage],
    rated: list[RatedPeriod],
    lines: list[tuple[int, date, date | None]],
) -> Profile:
    """Summarize the periods' usage (rated under the organization's current plans)."""
    # Seconds are summed as integers and turned into minutes once, so the profile is exact.
    seconds_by_month = []
    by_key: dict[tuple[str, str], int] = defaultdict(int)
    by_country: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_location: dict[int | None, int] = defaultdict(int)
    by_person: dict[int | None, int] = defaultdict(int)
    usage_cost = Decimal(0)
    overage = Decimal(0)
    for loaded, period_rating in zip(periods, rated, strict=True):
        month = 0
        for r in period_rating.result.rated:
            u = r.usage
            if r.chargeable and u.usage_type == "voice":
                seconds = u.billable_seconds
                month += seconds
                by_key[(u.category, u.zone)] += seconds
                by_country[(u.category, u.zone)][loaded.countries.get(u.id, "")] += seconds
                location_id, person_id, _band, _seconds = loaded.extra[u.id]
                by_location[location_id] += seconds
                by_person[person_id] += seconds
            if r.chargeable and r.amount > 0:
                plan = period_rating.plan_for(u)
                if plan is not None and any(a.covers(u) for a in plan.allowances):
                    overage += r.amount
        seconds_by_month.append(month)
        usage_cost += sum((money(exact, currency) for _key, (_q, exact, _n) in period_rating.usage_groups), Decimal(0))

    def minutes(values: dict) -> dict:
        return {key: Decimal(value) / 60 for key, value in values.items()}

    start, end = periods[0].period.start, periods[-1].period.end
    return Profile(
        months=len(periods),
        period_start=start,
        period_end=end,
        minutes_by_month=[Decimal(m) / 60 for m in seconds_by_month],
        minutes_by_key=minutes(by_key),
        minutes_by_country={k: minutes(v) for k, v in by_country.items()},
        minutes_by_location=minutes(by_location),
        minutes_by_person=minutes(by_person),
        usage_cost_total=usage_cost,
        overage_total=money(overage, currency),
        lines_active=sum(1 for _id, on, off in lines if on <= end and (off is None or off > end)),
        lines_added=sum(1 for _id, on, _off in lines if start < on <= end),
        lines_removed=sum(1 for _id, _on, off in lines if off is not None and start < off <= end),
    )


# --- Eligibility ----------------------------------------------------------------------------------

_OPS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True)
class Account:
    """Facts about the organization that are not its usage (usable without consent)."""

    currency: str
    country: str
    plan_codes: frozenset[str]
    lines_active: int


def eligible(
    eligibility: dict, account: Account, metrics: dict[str, Decimal] | None, *, account_only: bool = False
) -> bool:
    """All conditions hold. Without a profile (``metrics`` None), only account facts are checked when
    ``account_only`` (generic offers); otherwise a usage condition without a profile fails."""
    if eligibility.get("currencies") and account.currency not in eligibility["currencies"]:
        return False
    if eligibility.get("countries") and account.country not in eligibility["countries"]:
        return False
    if eligibility.get("current_plans") and not account.plan_codes & set(eligibility["current_plans"]):
        return False
    for condition in eligibility.get("conditions", []):
        metric = condition["metric"]
        if metric == "lines_active":
            value = Decimal(account.lines_active)
        elif metrics is None:
            if account_only:
                continue
            return False
        else:
            value = metrics.get(metric, Decimal(0))
        if not _OPS[condition["op"]](value, _d(condition["value"])):
            return False
    return True


# --- Candidates: how an offer changes each line's plan ------------------------------------------------


def overlay_replace(plan: PlanTerms) -> Callable[[PlanTerms], PlanTerms]:
    """A plan change: every line is rated under ``plan`` (lines on it share its pooled allowances)."""
    return lambda _base: plan


def overlay_bundle(bundle: PlanTerms) -> Callable[[PlanTerms], PlanTerms]:
    """A bundle or add-on laid over each line's plan: its rates come first (so where a bundle rate and a
    plan rate are equally specific, the bundle's wins), its allowances are used first, its monthly fee
    is added per line. A bundle's catch-all rates (no category) are ignored: a bundle prices only what it
    names. Lines of different plans keep separate pools (the pool is per resulting plan)."""
    rates = tuple(rate for rate in bundle.rates if rate.category)

    def apply(base: PlanTerms) -> PlanTerms:
        return PlanTerms(
            code=f"{base.code}+{bundle.code}",
            currency=base.currency,
            monthly_fee=base.monthly_fee + bundle.monthly_fee,
            call_setup_fee=base.call_setup_fee,
            rates=rates + base.rates,
            allowances=bundle.allowances + base.allowances,
        )

    return apply


@dataclass
class Pricing:
    """A candidate re-rated over the profile's periods; amounts are sums of once-rounded lines."""

    total_current: Decimal  # recurring + usage lines of the periods, as the statements carry them
    total_with_offer: Decimal
    cost_current: Decimal  # the part the offer changes (for the explanation)
    cost_with_offer: Decimal
    changed_usage: list[tuple[str, str, str]] = field(default_factory=list)
    saving_by_period: list[Decimal] = field(default_factory=list)  # same order as the periods
    # (usage_type, category, zone) -> (current, with the offer): the usage lines the offer changes
    changed_amounts: dict[tuple[str, str, str], tuple[Decimal, Decimal]] = field(default_factory=dict)

    @property
    def saving_total(self) -> Decimal:
        return self.total_current - self.total_with_offer


@dataclass(frozen=True)
class BilledStatement:
    """What a period's issued statement carried: its subtotal and tax (the saving's tax is computed on it)."""

    subtotal: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


def saving_incl_tax(*, currency: str, statements: list[BilledStatement], savings: list[Decimal]) -> Decimal:
    """The saving on the statements' totals: each statement's tax is its subtotal times its rate, rounded
    once, half-up; with the offer the subtotal is lower by that period's saving, and so is the tax, to the
    cent of what the re-issued statement would say."""
    total = Decimal(0)
    for billed, saving in zip(statements, savings, strict=True):
        tax_with_offer = money((billed.subtotal - saving) * billed.tax_rate, currency)
        total += saving + billed.tax_amount - tax_with_offer
    return total


def price_candidate(
    *,
    currency: str,
    periods: list[PeriodUsage],
    current: list[RatedPeriod],
    overlay: Callable[[PlanTerms], PlanTerms],
    replaces_plan: bool,
) -> Pricing | None:
    """Re-rate each period under the candidate. None when the candidate cannot price some usage the
    current plans do price (an unrated record would look free: never call that a saving)."""
    cur_usage: dict[tuple, Decimal] = defaultdict(Decimal)
    new_usage: dict[tuple, Decimal] = defaultdict(Decimal)
    cur_recurring = new_recurring = Decimal(0)
    by_period = []
    for loaded, rated_now in zip(periods, current, strict=True):
        rated_new = period_usage_rate(loaded, overlay=overlay)
        if len(rated_new.result.unrated) > len(rated_now.result.unrated):
            return None
        now_lines, new_lines = rated_now.charge_lines(currency), rated_new.charge_lines(currency)
        by_period.append(sum(now_lines.values(), Decimal(0)) - sum(new_lines.values(), Decimal(0)))
        for key, amount in now_lines.items():
            if key[0] == "recurring":
                cur_recurring += amount
            else:
                cur_usage[key[1:]] += amount
        for key, amount in new_lines.items():
            if key[0] == "recurring":
                new_recurring += amount
            else:
                new_usage[key[1:]] += amount
    changed = sorted(key for key in set(cur_usage) | set(new_usage) if cur_usage[key] != new_usage[key])
    before = sum((cur_usage[k] for k in changed), Decimal(0))
    after = sum((new_usage[k] for k in changed), Decimal(0))
    if replaces_plan:
        before, after = before + cur_recurring, after + new_recurring
    else:  # a bundle's price is its fee: what the lines' monthly fees grow by
        after += new_recurring - cur_recurring
    return Pricing(
        total_current=cur_recurring + sum(cur_usage.values(), Decimal(0)),
        total_with_offer=new_recurring + sum(new_usage.values(), Decimal(0)),
        cost_current=before,
        cost_with_offer=after,
        changed_usage=changed,
        saving_by_period=by_period,
        changed_amounts={k: (cur_usage[k], new_usage[k]) for k in changed},
    )


# --- Words ----------------------------------------------------------------------------------------


def reason_language(organization) -> str:
    """The organization's statement language (as billing.statements names it): its locale's language
    when the portal has it, else English."""
    language = (organization.locale or "en").split("-")[0].lower()
    return language if language in {code for code, _name in settings.LANGUAGES} else "en"


def period_words(start: date, end: date, locale: str, billing_day: int) -> str:
    """'Aug – Oct 2026' when periods are calendar months, else 'Aug 5 – Nov 4, 2026'."""
    skeleton = "yMMM" if billing_day == 1 else "yMMMd"
    return format_interval(start, end, skeleton, locale=locale)


def _and(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + _(" and ") + items[-1]


def _usage_words(profile: Profile, changed: list[tuple[str, str, str]], fmt: Formatter, locale: str) -> str | None:
    keys = [(category, zone) for usage_type, category, zone in changed if usage_type == "voice"]
    minutes = sum((profile.minutes_by_key.get(k, Decimal(0)) for k in keys), Decimal(0))
    if not keys or not minutes:
        return None
    zones = sorted({zone for category, zone in keys if category == "international" and zone})
    others = sorted({category for category, zone in keys if category != "international"})
    parts = []
    if zones:
        parts.append(_("calls to %(zones)s") % {"zones": _and([ZONE_NAMES.get(z, z) for z in zones])})
    parts += [str(CATEGORY_PHRASES.get(c, c)) for c in others]
    what = _and(parts)
    countries: dict[str, Decimal] = defaultdict(Decimal)
    for key in keys:
        if key[0] == "international":
            for country, m in profile.minutes_by_country.get(key, {}).items():
                countries[country] += m
    top = ""
    if countries:
        country = max(countries.items(), key=lambda item: (item[1], item[0]))[0]
        name = Locale.parse(get_language() or "en", sep="-").territories.get(country) if country else None
        if name:
            top = _(" (most to %(country)s)") % {"country": name}
    return _("%(minutes)s minutes of %(what)s%(top)s") % {"minutes": fmt.number(minutes), "what": what, "top": top}


def reason_words(
    *,
    title: str,
    profile: Profile,
    pricing: Pricing,
    fmt: Formatter,
    organization,
    retention: list[str] | None = None,
    saving_incl_tax: Decimal | None = None,
    price: Decimal | None = None,
    term_months: int = 0,
) -> str:
    """'Based on 1,240 minutes of calls to Europe (most to Germany) in Aug – Oct 2026, International Pack
    Europe would have cost €88.20 instead of €300.60: you would have saved €212.40 (€70.80 a month).'"""
    locale = locale_of(organization)
    when = period_words(profile.period_start, profile.period_end, locale, organization.billing_day)
    usage = _usage_words(profile, pricing.changed_usage, fmt, locale)
    if usage:
        basis = _("Based on %(usage)s in %(when)s") % {"usage": usage, "when": when}
    else:
        basis = _("Based on your usage in %(when)s") % {"when": when}
    saving = pricing.saving_total
    text = _(
        "%(basis)s, %(title)s would have cost %(with_offer)s instead of %(current)s: you would have saved %(saving)s"
    ) % {
        "basis": basis,
        "title": title,
        "with_offer": fmt.money(pricing.cost_with_offer),
        "current": fmt.money(pricing.cost_current),
        "saving": fmt.money(saving),
    }
    if saving_incl_tax is not None:
        text += _(" before tax, %(gross)s with tax") % {"gross": fmt.money(saving_incl_tax)}
    if profile.months > 1:
        text += _(" (%(monthly)s a month before tax)") % {"monthly": fmt.money(profile.per_month(saving))}
    text += "."
    if price is not None:
        text += " " + _("%(title)s costs %(price)s a month per line before tax") % {
            "title": title,
            "price": fmt.money(price),
        }
        text += (
            ngettext(", for at least %(months)s month.", ", for at least %(months)s months.", term_months)
            % {"months": term_months}
            if term_months
            else _(", with no minimum term.")
        )
    if retention:
        text = _("We noticed that %(reasons)s.") % {"reasons": _(" and ").join(retention)} + " " + text
    return text


# --- Retention risk ---------------------------------------------------------------------------------

RISK_HIGH = 40  # a score from here on makes retention offers eligible, like the retention signal


@dataclass(frozen=True)
class RetentionRisk:
    """An explainable score from 0 to 100 from the organization's own trend; each part says why."""

    score: int
    reasons: list[tuple[int, str]]  # (points, why)

    @property
    def level(self) -> str:
        return "high" if self.score >= RISK_HIGH else "medium" if self.score >= 20 else "low"

    def as_json(self) -> dict:
        return {"score": self.score, "level": self.level, "reasons": [[p, why] for p, why in self.reasons]}


def retention_risk(profile: Profile, disputes: int) -> RetentionRisk:
    """Points, each capped so that no single sign decides alone:
    - minutes falling: one point per percent of fall from the first to the last month, at most 50;
    - lines lost: the net share of lines switched off (off minus added, of the lines there were), one
      point per percent, at most 30;
    - disputes raised on the months' statements: 10 each, at most 20."""
    reasons: list[tuple[int, str]] = []
    trend = profile.trend_percent
    if trend < 0:
        points = min(int(-trend), 50)
        if points:
            reasons.append((points, f"call minutes fell by {abs(trend)} % from the first to the last month"))
    net_lost = profile.lines_removed - profile.lines_added
    if net_lost > 0:
        before = max(profile.lines_active + net_lost, 1)
        points = min(int(Decimal(net_lost) * 100 / before), 30)
        reasons.append((points, f"{net_lost} of {before} lines switched off (net of lines added)"))
    if disputes:
        reasons.append((min(10 * disputes, 20), f"{disputes} statement line(s) disputed"))
    return RetentionRisk(min(sum(p for p, _ in reasons), 100), reasons)
