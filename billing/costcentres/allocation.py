"""Which cost centres bear a line's cost on a day: the allocation rules in force, the most specific first.

A day's cost of a line goes by the rule of the line itself; without one, by the rule of the person who had
the line that day; without one, by the rule of the line's location; without any, it is unallocated (shown
as such, never dropped). Rules are by the organization's local dates (``valid_from`` inclusive, ``valid_to``
exclusive), like line plans: a chargeback is booked by the day. Who had a line on a day is the line
assignment in force at the start of that local day; usage records carry their own stamped person and
location.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal

from billing.models import AllocationRule, LineAssignment, Organization

HUNDRED = Decimal(100)
# One share: (cost centre id, or None for "unallocated"; percent).
Shares = tuple[tuple[int | None, Decimal], ...]
UNALLOCATED: Shares = ((None, HUNDRED),)


class Allocator:
    """The organization's allocation rules, loaded once, answering "who bears this on that day"."""

    def __init__(self, organization: Organization):
        self.organization = organization
        self._rules: dict[tuple[str, int], list[tuple[date, date | None, Shares]]] = defaultdict(list)
        rules = AllocationRule.objects.filter(organization=organization).prefetch_related("shares")
        for rule in rules.order_by("valid_from"):
            shares = tuple((s.cost_centre_id, s.percent) for s in rule.shares.all())
            target = rule.line_id or rule.person_id or rule.location_id
            self._rules[(rule.target_kind, target)].append((rule.valid_from, rule.valid_to, shares))
        self._starts = {key: [r[0] for r in rules] for key, rules in self._rules.items()}
        self._assignments: dict[int, list[tuple[datetime, datetime | None, int | None, int | None]]] = {}

    def rule_for(self, kind: str, target_id: int | None, day: date) -> Shares | None:
        if target_id is None:
            return None
        key = (kind, target_id)
        index = bisect.bisect_right(self._starts.get(key, []), day) - 1
        if index < 0:
            return None
        valid_from, valid_to, shares = self._rules[key][index]
        return shares if valid_to is None or day < valid_to else None

    def shares(self, line_id: int | None, person_id: int | None, location_id: int | None, day: date) -> Shares:
        return (
            self.rule_for("line", line_id, day)
            or self.rule_for("person", person_id, day)
            or self.rule_for("location", location_id, day)
            or UNALLOCATED
        )

    def load_assignments(self, line_ids) -> None:
        rows = LineAssignment.objects.filter(organization=self.organization, line_id__in=list(line_ids))
        for a in rows.order_by("line_id", "valid_from"):
            self._assignments.setdefault(a.line_id, []).append((a.valid_from, a.valid_to, a.person_id, a.location_id))

    def line_shares(self, line_id: int, day: date) -> Shares:
        """A line's cost on a day (a fee): by the line, else by whom and where it was at the day's start."""
        moment = datetime.combine(day, time(0), tzinfo=self.organization.tz)
        person_id = location_id = None
        for valid_from, valid_to, person, location in self._assignments.get(line_id, ()):
            if valid_from <= moment and (valid_to is None or moment < valid_to):
                person_id, location_id = person, location
                break
        return self.shares(line_id, person_id, location_id, day)
