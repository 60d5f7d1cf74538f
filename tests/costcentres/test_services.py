from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction

from billing.audit import AuditAction
from billing.costcentres.services import (
    CostCentreError,
    allocation_rule_end,
    allocation_rule_set,
    cost_centre_create,
    cost_centre_update,
)
from billing.models import AllocationRule, AllocationShare, AuditLog


@pytest.fixture
def centres(org):
    a = cost_centre_create(organization=org, code="A", name="A", gl_account="6805")
    b = cost_centre_create(organization=org, code="B", name="B", parent=a)
    c = cost_centre_create(organization=org, code="C", name="C", parent=b)
    return a, b, c


def test_codes_accounts_and_the_tree_are_checked(org, make, centres):
    a, b, c = centres
    with pytest.raises(CostCentreError, match="code: a cost centre A already exists"):
        cost_centre_create(organization=org, code="A", name="again")
    with pytest.raises(CostCentreError, match="^code: A cost centre code is 1–20 letters") as error:
        cost_centre_create(organization=org, code="CC-1", name="dash")
    assert error.value.field == "code"
    with pytest.raises(CostCentreError, match="gl_account: A GL account is a number"):
        cost_centre_create(organization=org, code="D", name="D", gl_account="SKR-6805")
    with pytest.raises(CostCentreError, match="parent: C is A itself or below it"):
        cost_centre_update(cost_centre=a, name="A", gl_account="", parent=c, active=True)
    foreign = cost_centre_create(organization=make.organization(), code="X", name="X")
    with pytest.raises(CostCentreError, match="parent: no such cost centre"):
        cost_centre_create(organization=org, code="E", name="E", parent=foreign)
    assert [r.action for r in AuditLog.objects.filter(organization=org)] == [AuditAction.COST_CENTRE_CREATED] * 3


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([], "name at least one cost centre"),
        ([("A", "60"), ("B", "39.99")], "add up to 99.99 %, not 100 %"),
        ([("A", "33.333"), ("B", "66.667")], "row 1: 33.333 % is not a percentage above 0 and at most 100, to 0.01"),
        ([("A", "50"), ("A", "50")], "row 2: cost centre A is named twice"),
        ([("A", "0"), ("B", "100")], "row 1: 0 % is not a percentage"),
    ],
)
def test_shares_are_validated(org, make, centres, shares, message):
    by_code = {c.code: c for c in centres}
    line = make.line(org)
    with pytest.raises(CostCentreError, match=message):
        allocation_rule_set(
            organization=org, target=line, valid_from=date(2026, 1, 1), shares=[(by_code[c], D(p)) for c, p in shares]
        )
    assert not AllocationRule.objects.exists() and not AuditLog.objects.filter(action="allocation_rule.set").exists()


def test_split_to_a_hundredth_of_a_percent(org, make, centres):
    a, b, c = centres
    rule = allocation_rule_set(
        organization=org,
        target=make.line(org),
        valid_from=date(2026, 1, 1),
        shares=[(a, D("33.33")), (b, D("33.33")), (c, D("33.34"))],
    )
    assert sorted(rule.shares.values_list("percent", flat=True)) == [D("33.33"), D("33.33"), D("33.34")]


def test_a_new_rule_ends_the_one_in_force_and_never_rewrites_history(org, make, centres):
    a, b, _c = centres
    line = make.line(org)
    first = allocation_rule_set(organization=org, target=line, valid_from=date(2026, 1, 1), shares=[(a, D(100))])
    second = allocation_rule_set(organization=org, target=line, valid_from=date(2026, 3, 1), shares=[(b, D(100))])
    first.refresh_from_db()
    assert (first.valid_from, first.valid_to) == (date(2026, 1, 1), date(2026, 3, 1))
    assert second.valid_to is None
    with pytest.raises(CostCentreError, match="already has a rule from 2026-03-01"):
        allocation_rule_set(organization=org, target=line, valid_from=date(2026, 2, 1), shares=[(b, D(100))])
    # the same first day replaces that rule (a correction), audited with what it replaced
    allocation_rule_set(organization=org, target=line, valid_from=date(2026, 3, 1), shares=[(a, D(50)), (b, D(50))])
    assert AllocationRule.objects.filter(organization=org).count() == 2
    assert AuditLog.objects.filter(action="allocation_rule.set").first().details["replaced"] == [["B", "100.00"]]
    last = AllocationRule.objects.get(valid_from=date(2026, 3, 1))
    allocation_rule_end(rule=last, valid_to=date(2026, 6, 1))
    last.refresh_from_db()
    assert last.valid_to == date(2026, 6, 1)
    with pytest.raises(CostCentreError, match="is not after the rule's first day"):
        allocation_rule_end(rule=last, valid_to=date(2026, 3, 1))


def test_other_organizations_objects_are_not_found(org, make, centres):
    other = make.organization()
    foreign_line = make.line(other)
    with pytest.raises(CostCentreError, match="target: no such line"):
        allocation_rule_set(
            organization=org, target=foreign_line, valid_from=date(2026, 1, 1), shares=[(centres[0], D(100))]
        )
    foreign_cc = cost_centre_create(organization=other, code="Z", name="Z")
    with pytest.raises(CostCentreError, match="row 1: no such cost centre"):
        allocation_rule_set(
            organization=org, target=make.line(org), valid_from=date(2026, 1, 1), shares=[(foreign_cc, D(100))]
        )


def test_the_database_refuses_overlaps_and_shares_not_adding_up(org, make, centres):
    a, b, _c = centres
    line = make.line(org)
    allocation_rule_set(organization=org, target=line, valid_from=date(2026, 1, 1), shares=[(a, D(100))])
    with pytest.raises(IntegrityError), transaction.atomic():
        AllocationRule.objects.create(organization=org, line=line, valid_from=date(2026, 5, 1))
    rule = AllocationRule.objects.get()
    with pytest.raises(IntegrityError, match="shares summing to 150.00 %, not 100 %"), transaction.atomic():
        AllocationShare.objects.create(organization=org, rule=rule, cost_centre=b, percent=D(50))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the trigger is deferred to commit
    with pytest.raises(IntegrityError, match="shares summing to 0 %"), transaction.atomic():
        AllocationRule.objects.create(organization=org, person=make.person(org), valid_from=date(2026, 1, 1))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
