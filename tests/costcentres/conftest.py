from datetime import date
from decimal import Decimal as D

import pytest

from billing.costcentres.services import allocation_rule_set, cost_centre_create, journal_settings_set
from billing.models import Line
from billing.statements.services import adjustment_create
from tests import factories


@pytest.fixture
def tree(billed_org):
    """billed_org's cost centres: 1000 Head office (GL 6805) above 1100 Sales (no GL: books to 6805) and
    1200 Support (GL 6810). Anna's line is split 60/40 between Sales and Support all October; the Berlin
    location goes to Support from 20 October (mid-period), so Ben's line, in Berlin from 16 October, is
    unallocated for four days; a goodwill credit of 5.00 corrects nothing and stays unallocated."""
    org = billed_org
    head = cost_centre_create(organization=org, code="1000", name="Head office", gl_account="6805")
    sales = cost_centre_create(organization=org, code="1100", name="Sales", parent=head)
    support = cost_centre_create(organization=org, code="1200", name="Support", gl_account="6810", parent=head)
    anna_line = Line.objects.get(number="+493011112222")
    allocation_rule_set(
        organization=org, target=anna_line, valid_from=date(2026, 10, 1), shares=[(sales, D("60")), (support, D("40"))]
    )
    allocation_rule_set(
        organization=org, target=org.berlin, valid_from=date(2026, 10, 20), shares=[(support, D("100"))]
    )
    adjustment_create(organization=org, amount=D("-5.00"), reason="Goodwill credit for outage")
    org.head, org.sales, org.support = head, sales, support
    return org


@pytest.fixture
def issued_with_tree(tree):
    return factories.issued_statement(tree)


@pytest.fixture
def datev_org(tree):
    journal_settings_set(
        organization=tree,
        journal_format="datev",
        default_gl_account="6800",
        contra_account="70000",
        datev_consultant_number=29098,
        datev_client_number=55003,
        datev_chart="04",
        datev_tax_key="9",
    )
    return tree


@pytest.fixture
def signed_in(client, make):
    """Sign ``client`` in as a new user with ``role`` in ``org``; returns the membership."""

    def sign_in(org, role="admin", **kw):
        user = make.user(email=f"{role}{org.pk}-{next(make._seq)}@example.com")
        membership = make.membership(user, org, role=role, **kw)
        client.force_login(user)
        return membership

    return sign_in
