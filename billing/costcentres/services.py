"""Writes of cost centres, allocation rules and journal settings: each one transaction with its audit row.

The portal's pages and the admin call these and nothing else. Every object is checked to belong to the
organization acted for; an error says which field is wrong and why (``CostCentreError.field``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from billing.audit import Actor, AuditAction, audit_write
from billing.models import (
    AllocationRule,
    AllocationShare,
    CostCentre,
    JournalSettings,
    Line,
    Location,
    Organization,
    Person,
)

HUNDRED = Decimal(100)


class CostCentreError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _validated(obj, exclude=()):
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise CostCentreError(f"{field}: {' '.join(messages)}", field=field) from None


def _check_parent(organization: Organization, cost_centre: CostCentre | None, parent: CostCentre | None) -> None:
    if parent is None:
        return
    if parent.organization_id != organization.id:
        raise CostCentreError("parent: no such cost centre", field="parent")
    node = parent
    seen = set()
    while node is not None:  # walking up from the new parent must never meet the cost centre itself
        if cost_centre is not None and node.pk == cost_centre.pk:
            raise CostCentreError(
                f"parent: {parent.code} is {cost_centre.code} itself or below it; the tree cannot loop",
                field="parent",
            )
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


def cost_centre_create(
    *,
    organization: Organization,
    code: str,
    name: str,
    gl_account: str = "",
    parent: CostCentre | None = None,
    actor: Actor | None = None,
) -> CostCentre:
    code, name = code.strip(), name.strip()
    cost_centre = CostCentre(
        organization=organization, code=code, name=name, gl_account=gl_account.strip(), parent=parent
    )
    _validated(cost_centre, exclude=["parent", "organization"])
    _check_parent(organization, None, parent)
    with transaction.atomic():
        if CostCentre.objects.filter(organization=organization, code=code).exists():
            raise CostCentreError(f"code: a cost centre {code} already exists", field="code")
        cost_centre.save()
        audit_write(
            organization=organization,
            action=AuditAction.COST_CENTRE_CREATED,
            actor=actor,
            target=str(cost_centre),
            details={"code": code, "parent": parent.code if parent else None, "gl_account": cost_centre.gl_account},
        )
    return cost_centre


def cost_centre_update(
    *,
    cost_centre: CostCentre,
    name: str,
    gl_account: str,
    parent: CostCentre | None,
    active: bool,
    actor: Actor | None = None,
) -> CostCentre:
    organization = cost_centre.organization
    with transaction.atomic():
        cost_centre = CostCentre.objects.select_for_update().get(pk=cost_centre.pk)
        before = {"name": cost_centre.name, "gl_account": cost_centre.gl_account, "parent": cost_centre.parent_id}
        before["active"] = cost_centre.active
        _check_parent(organization, cost_centre, parent)
        cost_centre.name, cost_centre.gl_account = name.strip(), gl_account.strip()
        cost_centre.parent, cost_centre.active = parent, active
        _validated(cost_centre, exclude=["parent", "organization"])
        cost_centre.save()
        after = {"name": cost_centre.name, "gl_account": cost_centre.gl_account, "parent": cost_centre.parent_id}
        after["active"] = cost_centre.active
        audit_write(
            organization=organization,
            action=AuditAction.COST_CENTRE_CHANGED,
            actor=actor,
            target=str(cost_centre),
            details={"before": before, "after": after},
        )
    return cost_centre


def _target_fields(organization: Organization, target) -> dict:
    kind = {Line: "line", Person: "person", Location: "location"}.get(type(target))
    if kind is None or target.organization_id != organization.id:
        raise CostCentreError("target: no such line, person or location", field="target")
    return {kind: target}


def _checked_shares(organization: Organization, shares) -> list[tuple[CostCentre, Decimal]]:
    if not shares:
        raise CostCentreError("shares: name at least one cost centre", field="shares")
    checked, seen = [], set()
    for number, (cost_centre, percent) in enumerate(shares, start=1):
        where = f"shares: row {number}"
        if cost_centre is None or cost_centre.organization_id != organization.id:
            raise CostCentreError(f"{where}: no such cost centre", field="shares")
        if not cost_centre.active:
            raise CostCentreError(f"{where}: cost centre {cost_centre.code} is inactive", field="shares")
        if cost_centre.pk in seen:
            raise CostCentreError(f"{where}: cost centre {cost_centre.code} is named twice", field="shares")
        seen.add(cost_centre.pk)
        percent = Decimal(percent)
        if percent != percent.quantize(Decimal("0.01")) or not (0 < percent <= HUNDRED):
            raise CostCentreError(
                f"{where}: {percent} % is not a percentage above 0 and at most 100, to 0.01", field="shares"
            )
        checked.append((cost_centre, percent))
    total = sum((p for _c, p in checked), Decimal(0))
    if total != HUNDRED:
        raise CostCentreError(
            f"shares: the percentages add up to {total.quantize(Decimal('0.01'))} %, not 100 %", field="shares"
        )
    return checked


def allocation_rule_set(
    *,
    organization: Organization,
    target,
    valid_from: date,
    shares: list[tuple[CostCentre, Decimal]],
    actor: Actor | None = None,
) -> AllocationRule:
    """Allocate a line, person or location to cost centres from ``valid_from`` on (the organization's local
    date). The rule in force on that date ends there; a rule starting on that very date is replaced. A rule
    starting later is refused: end or replace that one first, so history is only ever cut, never rewritten
    silently."""
    fields = _target_fields(organization, target)
    checked = _checked_shares(organization, shares)
    with transaction.atomic():
        rules = list(AllocationRule.objects.select_for_update().filter(organization=organization, **fields))
        later = [r for r in rules if r.valid_from > valid_from]
        if later:
            raise CostCentreError(
                f"valid_from: {target} already has a rule from {min(r.valid_from for r in later)}; "
                "change that rule instead",
                field="valid_from",
            )
        replaced = None
        for rule in rules:
            if rule.valid_from == valid_from:
                replaced = [(s.cost_centre.code, str(s.percent)) for s in rule.shares.select_related("cost_centre")]
                rule.delete()
            elif rule.valid_to is None or rule.valid_to > valid_from:
                rule.valid_to = valid_from
                rule.save(update_fields=["valid_to"])
        rule = AllocationRule.objects.create(organization=organization, valid_from=valid_from, **fields)
        AllocationShare.objects.bulk_create(
            AllocationShare(organization=organization, rule=rule, cost_centre=c, percent=p) for c, p in checked
        )
        audit_write(
            organization=organization,
            action=AuditAction.ALLOCATION_RULE_SET,
            actor=actor,
            target=f"{rule.target_kind} {target}",
            details={
                "valid_from": valid_from.isoformat(),
                "shares": [[c.code, str(p)] for c, p in checked],
                "replaced": replaced,
            },
        )
    return rule


def allocation_rule_end(*, rule: AllocationRule, valid_to: date, actor: Actor | None = None) -> AllocationRule:
    """End a rule on ``valid_to`` (exclusive): from that date its target is unallocated unless a new rule
    says otherwise."""
    with transaction.atomic():
        rule = AllocationRule.objects.select_for_update().get(pk=rule.pk)
        if valid_to <= rule.valid_from:
            raise CostCentreError(
                f"valid_to: {valid_to} is not after the rule's first day {rule.valid_from}", field="valid_to"
            )
        if rule.valid_to is not None and valid_to > rule.valid_to:
            raise CostCentreError(f"valid_to: the rule already ends on {rule.valid_to}", field="valid_to")
        rule.valid_to = valid_to
        rule.save(update_fields=["valid_to"])
        audit_write(
            organization=rule.organization,
            action=AuditAction.ALLOCATION_RULE_ENDED,
            actor=actor,
            target=f"{rule.target_kind} {rule.target}",
            details={"valid_from": rule.valid_from.isoformat(), "valid_to": valid_to.isoformat()},
        )
    return rule


JOURNAL_SETTING_FIELDS = (
    "journal_format",
    "default_gl_account",
    "contra_account",
    "datev_consultant_number",
    "datev_client_number",
    "datev_fiscal_year_start_month",
    "datev_account_length",
    "datev_chart",
    "datev_tax_key",
)


def journal_settings_of(organization: Organization) -> JournalSettings:
    """The organization's journal settings (defaults when never set; not saved)."""
    return JournalSettings.objects.filter(organization=organization).first() or JournalSettings(
        organization=organization
    )


def journal_settings_set(*, organization: Organization, actor: Actor | None = None, **values) -> JournalSettings:
    unknown = set(values) - set(JOURNAL_SETTING_FIELDS)
    if unknown:
        raise TypeError(f"unknown journal settings: {sorted(unknown)}")
    with transaction.atomic():
        settings, _created = JournalSettings.objects.select_for_update().get_or_create(organization=organization)
        before = {f: getattr(settings, f) for f in JOURNAL_SETTING_FIELDS}
        for field, value in values.items():
            setattr(settings, field, value)
        _validated(settings, exclude=["organization"])
        if settings.journal_format == "datev":
            missing = [
                f
                for f in ("datev_consultant_number", "datev_client_number", "contra_account", "default_gl_account")
                if getattr(settings, f) in (None, "")
            ]
            if missing:
                raise CostCentreError(f"{missing[0]}: required for DATEV journals", field=missing[0])
        settings.save()
        audit_write(
            organization=organization,
            action=AuditAction.JOURNAL_SETTINGS_CHANGED,
            actor=actor,
            target="journal settings",
            details={
                "before": {k: v for k, v in before.items() if v not in (None, "")},
                "after": {f: getattr(settings, f) for f in values},
            },
        )
    return settings
