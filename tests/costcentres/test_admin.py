"""Staff create cost centres and allocation rules in the Django admin, through the same services (audited)."""

from decimal import Decimal as D

from django.urls import reverse

from billing.models import AllocationRule, AuditLog, CostCentre


def test_staff_write_through_the_services(client, billed_org, make):
    staff = make.user("staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        reverse("admin:billing_costcentre_add"),
        {"organization": billed_org.pk, "code": "4100", "name": "Sales", "gl_account": "6805", "active": "on"},
    )
    assert response.status_code == 302
    centre = CostCentre.objects.get(code="4100")
    bad = client.post(
        reverse("admin:billing_allocationrule_add"),
        {
            "organization": billed_org.pk,
            "location": billed_org.berlin.pk,
            "valid_from": "2026-10-01",
            "shares_text": "4100=99.5",
            "shares-TOTAL_FORMS": 0,
            "shares-INITIAL_FORMS": 0,
        },
    )
    assert bad.status_code == 200 and "the percentages add up to 99.50 %, not 100 %" in bad.content.decode()
    ok = client.post(
        reverse("admin:billing_allocationrule_add"),
        {
            "organization": billed_org.pk,
            "location": billed_org.berlin.pk,
            "valid_from": "2026-10-01",
            "shares_text": "4100=100",
            "shares-TOTAL_FORMS": 0,
            "shares-INITIAL_FORMS": 0,
        },
    )
    assert ok.status_code == 302
    rule = AllocationRule.objects.get()
    assert [(s.cost_centre, s.percent) for s in rule.shares.all()] == [(centre, D("100.00"))]
    actions = list(AuditLog.objects.filter(user=staff).exclude(action="auth.login").values_list("action", flat=True))
    assert sorted(actions) == ["allocation_rule.set", "cost_centre.created"]
