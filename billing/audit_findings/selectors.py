"""Who sees which findings: the whole organization's to those who see all of it; a caller limited to some
locations sees the findings of lines assigned there (their scope's lines); a caller limited to their own
usage (a member) sees none: findings are about what the organization pays."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from billing.models import BillFinding
from billing.usage.scope import Scope, scoped_lines


def findings_visible(scope: Scope, *, status: str | None = None, active: bool = True):
    findings = BillFinding.objects.filter(organization=scope.organization)
    if scope.person_ids is not None:
        return findings.none()
    if scope.location_ids is not None:
        findings = findings.filter(line__in=scoped_lines(scope))
    elif not scope.sees_billing:
        return findings.none()
    if active is not None:
        findings = findings.filter(active=active)
    if status:
        findings = findings.filter(status=status)
    return findings.select_related("line", "person", "suggested_plan", "status_changed_by").order_by(
        "-monthly_value", "kind", "line__number"
    )


@dataclass
class FindingsSummary:
    open_count: int
    open_monthly_value: Decimal


def findings_summary(scope: Scope) -> FindingsSummary:
    open_findings = findings_visible(scope, status=BillFinding.Status.OPEN)
    total = open_findings.aggregate(s=Sum("monthly_value"))["s"] or Decimal(0)
    return FindingsSummary(open_count=open_findings.count(), open_monthly_value=total)
