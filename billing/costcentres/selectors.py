"""Reads of cost centres and chargeback, scoped to the caller: the tree, the rules, a statement's chargeback
by cost centre (with the tree's subtotals) and its journal download (audited as an export).

A chargeback shares out whole statements, so it is for callers who see the organization's billing and all of
its usage (``Scope.sees_offers``' condition); anyone else finds no statement."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from billing.costcentres import datev
from billing.costcentres.chargeback import Chargeback, statement_chargeback
from billing.costcentres.journal import journal_csv, journal_filename, journal_rows
from billing.costcentres.services import journal_settings_of
from billing.models import AllocationRule, CostCentre, JournalFormat, Statement
from billing.usage.scope import Scope


def cost_centre_tree(*, organization) -> list[tuple[CostCentre, int]]:
    """Every cost centre with its depth, depth first, children by code."""
    nodes = list(CostCentre.objects.filter(organization=organization).order_by("code"))
    children: dict[int | None, list[CostCentre]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    out: list[tuple[CostCentre, int]] = []

    def walk(parent_id, depth):
        for node in children.get(parent_id, []):
            out.append((node, depth))
            walk(node.pk, depth + 1)

    walk(None, 0)
    return out


def allocation_rules(*, organization):
    return (
        AllocationRule.objects.filter(organization=organization)
        .select_related("line", "person", "location")
        .prefetch_related("shares__cost_centre")
        .order_by("-valid_to", "-valid_from", "id")
    )


def chargeback_statements(*, scope: Scope):
    if not (scope.sees_billing and scope.whole_organization):
        return Statement.objects.none()
    return Statement.objects.filter(organization=scope.organization).exclude(status=Statement.Status.DRAFT)


@dataclass(frozen=True)
class CostCentreTotal:
    cost_centre: CostCentre | None  # None: unallocated
    depth: int
    net: Decimal
    tax: Decimal
    rolled_net: Decimal  # with every cost centre below it
    rolled_tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    @property
    def rolled_gross(self) -> Decimal:
        return self.rolled_net + self.rolled_tax


def chargeback_by_cost_centre(chargeback: Chargeback) -> list[CostCentreTotal]:
    """The tree with each cost centre's own amounts and its subtotal with all below it; unallocated last."""
    totals = chargeback.totals()
    zero = (Decimal(0), Decimal(0))
    tree = cost_centre_tree(organization=chargeback.statement.organization)
    rolled: dict[int, list[Decimal]] = {}
    for node, _depth in reversed(tree):  # children come after their parent: add them up bottom-up
        own = totals.get(node.pk, zero)
        mine = rolled.setdefault(node.pk, [Decimal(0), Decimal(0)])
        mine[0] += own[0]
        mine[1] += own[1]
        if node.parent_id is not None:
            up = rolled.setdefault(node.parent_id, [Decimal(0), Decimal(0)])
            up[0] += mine[0]
            up[1] += mine[1]
    rows = [
        CostCentreTotal(node, depth, *totals.get(node.pk, zero), *rolled[node.pk])
        for node, depth in tree
        if rolled[node.pk] != [0, 0] or node.active
    ]
    unallocated = totals.get(None, zero)
    rows.append(CostCentreTotal(None, 0, *unallocated, *unallocated))
    return rows


def journal_export(*, scope: Scope, statement: Statement, journal_format: str, actor: Actor | None = None):
    """The statement's journal as (filename, content type, bytes), audited as an export. Raises
    ``datev.DatevError`` (a clear message) when the DATEV settings cannot make a valid batch."""
    if not chargeback_statements(scope=scope).filter(pk=statement.pk).exists():
        raise Statement.DoesNotExist
    settings = journal_settings_of(statement.organization)
    rows = journal_rows(statement_chargeback(statement=statement), settings)
    if journal_format == JournalFormat.DATEV:
        content = datev.booking_batch(
            rows=rows,
            settings=settings,
            created=timezone.now().astimezone(statement.organization.tz),
            label=f"Telekom {statement.number}",
        )
        filename, content_type = datev.batch_filename(statement), "text/csv; charset=windows-1252"
    else:
        content, filename, content_type = journal_csv(rows), journal_filename(statement), "text/csv; charset=utf-8"
    audit_write(
        organization=statement.organization,
        action=AuditAction.JOURNAL_EXPORTED,
        actor=actor,
        target=statement.number,
        details={"format": str(journal_format), "rows": len(rows)},
    )
    return filename, content_type, content
