"""Chargeback: each cost centre's share of every line of an issued statement, and of its tax, adding up to the
statement's total exactly.

What each line is shared out by (its weights, per cost centre; "unallocated" is a cost centre of its own):
- usage lines: the rated cost of the very records the line charged (``UsageRecord.billed_on``), each record
  by the rule in force on its local day for its line, else its stamped person, else its location;
- fees (prorated by days): each day the line was on the plan, by the rule in force that day;
- included usage (allowance) lines carry no amount: their effect is already in the usage records' cost;
- adjustments: a credit for a disputed line like that line on the statement it corrects; another
  correction of a statement like that statement's fees and usage; anything else is unallocated.

The rounding rule (largest remainder, at the currency's minor unit, per statement line): a line's rounded
amount is split in proportion to its weights; each cost centre gets its exact quota rounded down to the
minor unit, and the units left over go one each to the largest remainders (ties: the cost centre first by
code, unallocated last). So every line's shares add up to the line, and the shares of all lines to the
subtotal. Tax is shared out the same way over the journal rows (cost centre × kind of line): each row's
exact quota is its net amount × the statement's tax rate, and the statement's tax amount is distributed by
largest remainder; so the rows' tax adds up to the statement's tax and their gross to its total.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.costcentres.allocation import Allocator
from billing.models import Adjustment, CostCentre, LinePlan, Statement, StatementLine, UsageRecord
from billing.money import minor_unit
from billing.periods import period_containing

KIND_ORDER = {"recurring": 0, "usage": 1, "allowance": 2, "adjustment": 3}


def apportion(quotas: list[Decimal], total: Decimal, unit: Decimal) -> list[Decimal]:
    """Round exact ``quotas`` (which add up to ``total``, give or take rounding) to multiples of ``unit`` that
    add up to ``total`` exactly: each quota rounded down, the units left over one each to the largest
    remainders (ties: the earlier quota)."""
    units = int((total / unit).to_integral_value())
    if units * unit != total:
        raise ValueError(f"{total} is not a multiple of {unit}")
    scaled = [q / unit for q in quotas]
    floors = [math.floor(q) for q in scaled]
    left = units - sum(floors)
    if not 0 <= left <= len(quotas):
        raise ValueError(f"quotas {quotas} do not add up to {total}")
    order = sorted(range(len(quotas)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(f) * unit for f in floors]


@dataclass
class Chargeback:
    """An issued statement's chargeback. ``shares[position]``: cost centre id (None: unallocated) -> amount."""

    statement: Statement
    lines: list[StatementLine]
    cost_centres: dict[int, CostCentre]
    shares: dict[int, dict[int | None, Decimal]] = field(default_factory=dict)
    # (cost centre id, kind) -> (net, tax), in journal order
    rows: dict[tuple[int | None, str], tuple[Decimal, Decimal]] = field(default_factory=dict)

    def totals(self) -> dict[int | None, tuple[Decimal, Decimal]]:
        """Net and tax per cost centre (its own, without its children)."""
        out: dict[int | None, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for (cc, _kind), (net, tax) in self.rows.items():
            out[cc][0] += net
            out[cc][1] += tax
        return {cc: (v[0], v[1]) for cc, v in out.items()}


def _order_key(cost_centres: dict[int, CostCentre]):
    return lambda cc: (cc is None, cost_centres[cc].code if cc is not None else "")


def statement_chargeback(*, statement: Statement) -> Chargeback:
    """The chargeback of an issued statement (see the module doc for every rule)."""
    if statement.status == Statement.Status.DRAFT:
        raise ValueError("only an issued statement has a chargeback")
    organization = statement.organization
    cost_centres = {c.pk: c for c in CostCentre.objects.filter(organization=organization).select_related("parent")}
    lines = list(statement.lines.order_by("position"))
    allocator = Allocator(organization)
    weights = _weights(statement, lines, allocator)
    result = Chargeback(statement=statement, lines=lines, cost_centres=cost_centres)
    unit = minor_unit(statement.currency)
    order = _order_key(cost_centres)
    for line in lines:
        if line.amount == 0:
            result.shares[line.position] = {}
            continue
        w = {cc: v for cc, v in weights.get(line.position, {}).items() if v}
        total_weight = sum(w.values(), Decimal(0))
        if not w or total_weight == 0:
            w, total_weight = {None: Decimal(1)}, Decimal(1)
        keys = sorted(w, key=order)
        amounts = apportion([line.amount * w[k] / total_weight for k in keys], line.amount, unit)
        result.shares[line.position] = {k: a for k, a in zip(keys, amounts, strict=True) if a}
    nets: dict[tuple[int | None, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        for cc, amount in result.shares[line.position].items():
            nets[(cc, line.kind)] += amount
    row_keys = sorted(nets, key=lambda k: (*order(k[0]), KIND_ORDER.get(k[1], 9)))
    taxes = apportion([nets[k] * statement.tax_rate for k in row_keys], statement.tax_amount, unit)
    result.rows = {k: (nets[k], t) for k, t in zip(row_keys, taxes, strict=True) if nets[k] or t}
    return result


def _weights(statement: Statement, lines: list[StatementLine], allocator: Allocator) -> dict:
    weights: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    _usage_weights(statement, lines, allocator, weights)
    _fee_weights(statement, lines, allocator, weights)
    _adjustment_weights(statement, lines, weights)
    return weights


def _usage_weights(statement, lines, allocator: Allocator, weights) -> None:
    organization = statement.organization
    position_of = {
        (line.usage_type, line.category, line.zone, line.usage_period_start): line.position
        for line in lines
        if line.kind == StatementLine.Kind.USAGE
    }
    if not position_of:
        return
    groups = (
        UsageRecord.objects.filter(organization=organization, billed_on=statement, local_date__lte=statement.period_end)
        .values_list("usage_type", "category", "zone", "line_id", "person_id", "location_id", "local_date")
        .annotate(cost=Sum("cost"))
        .order_by()
    )
    for usage_type, category, zone, line_id, person_id, location_id, day, cost in groups:
        if not cost:
            continue
        earlier = None if day >= statement.period_start else period_containing(organization, day).start
        position = position_of.get((usage_type, category, zone, earlier))
        if position is None:
            continue
        for cc, percent in allocator.shares(line_id, person_id, location_id, day):
            weights[position][cc] += cost * percent / 100


def _days(start: date, end_exclusive: date):
    day = start
    while day < end_exclusive:
        yield day
        day += timedelta(days=1)


def _fee_weights(statement, lines, allocator: Allocator, weights) -> None:
    """A fee line's days: the days its line was active on a plan with a fee in the period, plan by plan
    in the order the statement lists them (as the billing run prorated them)."""
    fees = defaultdict(list)
    for line in lines:
        if line.kind == StatementLine.Kind.RECURRING and line.line_id:
            fees[line.line_id].append(line)
    if not fees:
        return
    allocator.load_assignments(fees)
    start, end_excl = statement.period_start, statement.period_end + timedelta(days=1)
    ranges = defaultdict(list)
    plans = LinePlan.objects.filter(
        organization=statement.organization, line_id__in=list(fees), valid_from__lt=end_excl
    ).exclude(valid_to__lte=start)
    for lp in plans.select_related("line", "plan").order_by("line_id", "valid_from"):
        if not lp.plan.monthly_fee:
            continue
        lo = max(lp.valid_from, lp.line.activated_on, start)
        hi = min(lp.valid_to or date.max, lp.line.deactivated_on or date.max, end_excl)
        if hi > lo:
            ranges[lp.line_id].append((lo, hi))
    for line_id, fee_lines in fees.items():
        spans = ranges.get(line_id, [])
        if len(spans) != len(fee_lines) or any(
            Decimal((hi - lo).days) != f.quantity for f, (lo, hi) in zip(fee_lines, spans, strict=False)
        ):
            # the plans changed since the statement: every fee line by all the line's days
            spans = [spans or [(start, end_excl)]] * len(fee_lines)
        else:
            spans = [[span] for span in spans]
        for fee_line, line_spans in zip(fee_lines, spans, strict=True):
            for lo, hi in line_spans:
                for day in _days(lo, hi):
                    for cc, percent in allocator.line_shares(line_id, day):
                        weights[fee_line.position][cc] += percent


def _adjustment_weights(statement, lines, weights) -> None:
    adjustment_lines = [line for line in lines if line.kind == StatementLine.Kind.ADJUSTMENT]
    if not adjustment_lines:
        return
    # The billing run writes one line per adjustment applied, in the order it loaded them.
    adjustments = list(
        Adjustment.objects.filter(organization=statement.organization, applied_to=statement)
        .select_related("corrects", "dispute__line")
        .order_by("created_at", "pk")
    )
    if len(adjustments) != len(adjustment_lines):
        return
    for line, adjustment in zip(adjustment_lines, adjustments, strict=True):
        if adjustment.amount != line.amount or adjustment.corrects is None:
            continue
        corrected = adjustment.corrects
        if corrected.status == Statement.Status.DRAFT:
            continue
        base = _base_shares(corrected)
        dispute = getattr(adjustment, "dispute", None)
        if dispute is not None and dispute.line.statement_id == corrected.pk:
            source = base.get(dispute.line.position, {})
        else:
            source = defaultdict(Decimal)
            for shares in base.values():
                for cc, amount in shares.items():
                    source[cc] += amount
        for cc, amount in source.items():
            weights[line.position][cc] += abs(amount)


def _base_shares(statement: Statement) -> dict[int, dict[int | None, Decimal]]:
    """The fee and usage lines' shares of a statement (its own adjustments left out: one level deep)."""
    lines = [line for line in statement.lines.order_by("position") if line.kind != StatementLine.Kind.ADJUSTMENT]
    allocator = Allocator(statement.organization)
    weights: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    _usage_weights(statement, lines, allocator, weights)
    _fee_weights(statement, lines, allocator, weights)
    return {position: dict(w) for position, w in weights.items()}
