"""What an organization's recent usage looks like, for its offers: the profile built from its periods
(rated under its current plans), the retention signal in the customer's words, and the explainable
retention risk score. Pure: no ORM; built only with the organization's consent (``billing.offers.candidates``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.money import money
from billing.rating.pipeline import PeriodUsage, RatedPeriod

# The retention signal: minutes falling by at least this much from the first to the last month, or more
# lines switched off than added. Simple on purpose: staff and customers can check it against their statements.
RETENTION_TREND_PERCENT = Decimal(-15)
TWO = Decimal("0.01")


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
        """A monthly average of minutes or of a metric, to two places (what eligibility conditions test)."""
        return (value / self.months).quantize(TWO, ROUND_HALF_UP) if self.months else Decimal(0)

    def per_month_money(self, amount: Decimal, currency: str) -> Decimal:
        """A monthly average of money: rounded once, half-up, to the currency's minor unit (billing.money)."""
        return money(amount / self.months, currency) if self.months else Decimal(0)

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
