"""The four rules on planted cases, each with its money value per month (see conftest for every number)."""

from decimal import Decimal as D

from billing.audit_findings import rules
from billing.audit_findings.services import findings_compute
from tests.audit_findings.conftest import NOW


def _by_line(org, found):
    label_of = {line.id: label for label, line in org.lines_by_label.items()}
    return {(f.kind, label_of[f.line_id]): f for f in found}


def test_each_planted_case_is_found_once_with_its_monthly_value(planted):
    found = _by_line(planted, findings_compute(organization=planted, as_of=NOW.date(), now=NOW))
    assert {key: f.monthly_value for key, f in found.items()} == {
        ("overage", "A"): D("15.00"),
        ("idle_line", "B"): D("10.00"),
        ("unassigned", "C"): D("10.00"),
        ("rate_differs", "D"): D("0.50"),
    }
    overage = found[("overage", "A")]
    assert overage.details["suggested_plan"] == "large" and overage.details["overage_per_month"] == "20.00"
    assert overage.details["months"] == 3 and overage.suggested_plan_id is not None
    assert found[("idle_line", "B")].details == {"idle_days": 60, "last_usage": "2026-08-14", "plan": "small"}
    assert found[("unassigned", "C")].details["person"] == "Lena"
    assert found[("unassigned", "C")].details["assigned_until"] == "2026-10-01"
    differs = found[("rate_differs", "D")].details
    assert (differs["charged"], differs["at_contracted_rates"], differs["contracted_on"]) == (
        "1.50",
        "1.00",
        "2025-01-01",
    )


def test_idle_needs_the_whole_window(planted):
    # The last call was on 2026-08-14: an 81-day window up to 2026-11-03 starts the day after it, an
    # 82-day window contains it.
    assert [f.line_id for f in rules.idle_lines(planted, NOW.date(), 81)] == [planted.lines_by_label["B"].id]
    assert rules.idle_lines(planted, NOW.date(), 82) == []


def test_overage_needs_every_month_and_a_cheaper_plan(planted):
    from billing.models import Plan

    # Two months of statements are not three: no finding yet.
    assert rules.overage_lines(planted, NOW.date(), 4) == []
    # With the larger plan dearer than what the line pays now, nothing is saved: no finding.
    Plan.objects.filter(code="large").update(monthly_fee=D("31.00"))
    assert rules.overage_lines(planted, NOW.date(), 3) == []
