"""The offer engine: eligibility, re-rating under a candidate, the saving, the reason in the customer's words.

No ORM here: the services load an organization's periods with ``billing.rating.pipeline.period_usage_load``
(the very loader the billing run uses) and hand them in, with the usage profile (``billing.offers.profile``).
A candidate is priced by re-rating those periods with ``period_usage_rate(..., overlay=...)`` (the very
rating the billing run uses) and rounding each would-be statement line once, exactly as a statement does.
So the saving we state is, to the cent, the difference between the organization's statements and the same
statements re-rated with the offer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from babel import Locale
from babel.dates import format_interval
from django.conf import settings
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from billing.formatting import Formatter, locale_of
from billing.money import money
from billing.offers.profile import Profile
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


def _d(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


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
        text += _(" (%(monthly)s a month before tax)") % {
            "monthly": fmt.money(profile.per_month_money(saving, organization.currency))
        }
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
