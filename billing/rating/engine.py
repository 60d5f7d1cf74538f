"""Rating: usage + plan terms -> amounts. Pure functions: dataclasses in, Decimal out, no ORM.

The same functions rate real usage for statements and re-rate a period under another plan for offers.

Rules (also in the README):
- Only answered outbound calls, outbound messages and data sessions are charged; inbound and
  unanswered calls cost nothing, and so do internal calls (between two of the organization's own
  lines) unless the plan has a rate for the category ``internal``.
- The rate is the plan's most specific rate valid on the record's local date: category and zone
  match, then category only, then the plan's catch-all rate for the usage type. No rate: not charged,
  and the record is reported as unrated so the gap is visible, never silently priced at zero.
- Voice is billed in increments: the first ``first_increment`` seconds, then whole blocks of
  ``next_increment`` seconds (60/60 bills 61 s as 120 s; 30/6 bills 31 s as 36 s; 1/1 per second).
  Price is per minute of billed time. A call then costs at least ``minimum_charge``, plus the plan's
  ``call_setup_fee``.
- Allowances (included minutes, messages or MB) are consumed in time order, per line or pooled across
  the organization's lines on the plan. A call covered in full costs nothing; a call covered in part
  pays for the uncovered billed time only (its minimum charge and setup fee are waived when any of it
  was covered, so an allowance never makes a call dearer).
- Amounts keep 6 decimal places (``quantize(0.000001, ROUND_HALF_UP)``) here; rounding to the
  currency's minor unit happens once per statement line, in billing.statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

SIX_PLACES = Decimal("0.000001")
SIXTY = Decimal(60)
MB = Decimal(1_000_000)


def q6(value: Decimal) -> Decimal:
    return value.quantize(SIX_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Rate:
    usage_type: str
    category: str  # "" = any category
    zone: str  # "" = any zone
    price: Decimal  # per minute, message or MB
    first_increment: int = 60
    next_increment: int = 60
    minimum_charge: Decimal = Decimal(0)
    valid_from: date = date(1970, 1, 1)
    valid_to: date | None = None  # exclusive

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def specificity(self) -> int:
        return (2 if self.category else 0) + (1 if self.zone else 0)


@dataclass(frozen=True, slots=True)
class Allowance:
    usage_type: str
    quantity: Decimal  # minutes, messages or MB per line (or per line, pooled)
    categories: tuple[str, ...] = ()  # empty = all
    zones: tuple[str, ...] = ()
    pooled: bool = False

    def covers(self, usage: Usage) -> bool:
        return (
            usage.usage_type == self.usage_type
            and (not self.categories or usage.category in self.categories)
            and (not self.zones or usage.zone in self.zones)
        )


@dataclass(frozen=True, slots=True)
class PlanTerms:
    code: str
    currency: str
    monthly_fee: Decimal = Decimal(0)
    call_setup_fee: Decimal = Decimal(0)
    rates: tuple[Rate, ...] = ()
    allowances: tuple[Allowance, ...] = ()

    def rate_for(self, usage: Usage) -> Rate | None:
        best = None
        for rate in self.rates:
            if rate.usage_type != usage.usage_type or not rate.valid_on(usage.local_date):
                continue
            if rate.category and rate.category != usage.category:
                continue
            if rate.zone and rate.zone != usage.zone:
                continue
            if best is None or rate.specificity() > best.specificity():
                best = rate
        return best


@dataclass(frozen=True, slots=True)
class Usage:
    id: int
    line_id: int
    usage_type: str
    started_at: datetime
    local_date: date
    direction: str = "outbound"
    answered: bool = True
    billable_seconds: int = 0
    category: str = ""
    zone: str = ""
    data_bytes: int = 0


@dataclass(slots=True)
class Rated:
    usage: Usage
    amount: Decimal  # 6 places
    quantity: Decimal  # billed minutes, messages or MB before allowances
    covered: Decimal = Decimal(0)  # part of ``quantity`` paid by an allowance
    rate: Rate | None = None
    chargeable: bool = True  # False for inbound/unanswered: not charged by rule
    unrated: bool = False  # chargeable but the plan has no rate for it


def billed_seconds(seconds: int, first: int, step: int) -> int:
    """Seconds billed under first/next increments: 61 s at 60/60 -> 120 s; 31 s at 30/6 -> 36 s."""
    if seconds <= 0:
        return 0
    if seconds <= first:
        return first
    blocks = -(-(seconds - first) // step)  # ceiling division
    return first + blocks * step


def chargeable(usage: Usage) -> bool:
    if usage.usage_type == "voice":
        return usage.answered and usage.direction == "outbound" and usage.billable_seconds > 0
    if usage.usage_type == "sms":
        return usage.direction == "outbound"
    return usage.data_bytes > 0


def charged_under(usage: Usage, plan: PlanTerms) -> bool:
    """``chargeable``, and a call between two of the organization's own lines (category internal) only
    when the plan prices internal calls with a rate of that category: a catch-all rate never does."""
    if not chargeable(usage):
        return False
    return usage.category != "internal" or any(rate.category == "internal" for rate in plan.rates)


def quantity_of(usage: Usage, rate: Rate) -> Decimal:
    if usage.usage_type == "voice":
        return Decimal(billed_seconds(usage.billable_seconds, rate.first_increment, rate.next_increment)) / SIXTY
    if usage.usage_type == "sms":
        return Decimal(1)
    return Decimal(usage.data_bytes) / MB


def rate_one(usage: Usage, plan: PlanTerms, covered: Decimal = Decimal(0)) -> Rated:
    """Price one record; ``covered`` is how much of its quantity an allowance already paid."""
    if not charged_under(usage, plan):
        return Rated(usage, Decimal(0).quantize(SIX_PLACES), Decimal(0), chargeable=False)
    rate = plan.rate_for(usage)
    if rate is None:
        return Rated(usage, Decimal(0).quantize(SIX_PLACES), Decimal(0), unrated=True)
    quantity = quantity_of(usage, rate)
    covered = min(covered, quantity)
    amount = (quantity - covered) * rate.price
    if covered == 0:
        amount = max(amount, rate.minimum_charge)
        if usage.usage_type == "voice":
            amount += plan.call_setup_fee
    return Rated(usage, q6(amount), quantity, covered=covered, rate=rate)


@dataclass
class AllowanceUse:
    allowance: Allowance
    plan_code: str
    line_id: int | None  # None for a pool
    granted: Decimal
    used: Decimal = Decimal(0)


@dataclass
class PeriodRating:
    rated: list[Rated]
    allowances: list[AllowanceUse] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rated), Decimal(0))

    @property
    def unrated(self) -> list[Rated]:
        return [r for r in self.rated if r.unrated]


def rate_period(
    usages: Iterable[Usage],
    plan_of_line: dict[int, PlanTerms] | Callable[[Usage], PlanTerms | None],
    *,
    lines_on_plan: dict[str, list[int]] | None = None,
    line_share: dict[int, Decimal] | None = None,
    plan_share: dict[tuple[int, str], Decimal] | None = None,
    arrived_late: frozenset[int] = frozenset(),
) -> PeriodRating:
    """Rate one billing period of an organization's usage, consuming allowances in time order.

    ``arrived_late``: ids of records that reached us after the period was billed. They come after all
    the others, so the allowance the issued statement used stays used and the records it charged keep
    their amounts; the late records get what is left (see the statements' "usage from earlier periods").

    ``plan_of_line`` gives each line's plan: a dict, or a function of the record when plans change
    within the period. ``lines_on_plan`` lists the lines sharing a pooled allowance (default: the
    dict's lines). ``line_share`` (default 1) scales a line's allowance for lines active only part of
    the period (proration). ``plan_share`` does the same per (line, plan code) and wins over
    ``line_share``: a line that changes plan mid-period gets each plan's allowance for the share of the
    period it spent on that plan, exactly as its fees are prorated (17 of 31 days on a 500-minute plan:
    500 × 17/31 = 274.193548… minutes), never the full allowance of both.
    """
    line_share = line_share or {}
    plan_share = plan_share or {}

    def share_of(line_id: int, code: str) -> Decimal:
        share = plan_share.get((line_id, code))
        return share if share is not None else line_share.get(line_id, Decimal(1))

    buckets: dict[tuple, AllowanceUse] = {}
    if isinstance(plan_of_line, dict):
        plans = plan_of_line

        def plan_for(usage: Usage) -> PlanTerms | None:
            return plans.get(usage.line_id)

        if lines_on_plan is None:
            lines_on_plan = defaultdict(list)
            for line_id, plan in plans.items():
                lines_on_plan[plan.code].append(line_id)
    else:
        plan_for = plan_of_line
    lines_on_plan = lines_on_plan or {}

    def bucket_for(line_id: int, plan: PlanTerms, index: int, allowance: Allowance) -> AllowanceUse:
        key = (plan.code, index, None if allowance.pooled else line_id)
        if key not in buckets:
            if allowance.pooled:
                granted = sum(
                    (allowance.quantity * share_of(lid, plan.code) for lid in lines_on_plan.get(plan.code, [])),
                    Decimal(0),
                )
            else:
                granted = allowance.quantity * share_of(line_id, plan.code)
            buckets[key] = AllowanceUse(allowance, plan.code, key[2], granted)
        return buckets[key]

    rated = []
    for usage in sorted(usages, key=lambda u: (u.id in arrived_late, u.started_at, u.id)):
        plan = plan_for(usage)
        if plan is None:
            unrated = chargeable(usage) and usage.category != "internal"
            rated.append(Rated(usage, Decimal(0).quantize(SIX_PLACES), Decimal(0), unrated=unrated))
            continue
        covered = Decimal(0)
        rate = plan.rate_for(usage) if charged_under(usage, plan) else None
        if rate is not None:
            need = quantity_of(usage, rate)
            for index, allowance in enumerate(plan.allowances):
                if need <= covered or not allowance.covers(usage):
                    continue
                bucket = bucket_for(usage.line_id, plan, index, allowance)
                take = min(need - covered, bucket.granted - bucket.used)
                if take > 0:
                    bucket.used += take
                    covered += take
        rated.append(rate_one(usage, plan, covered))
    return PeriodRating(rated=rated, allowances=list(buckets.values()))
