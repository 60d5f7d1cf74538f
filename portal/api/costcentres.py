"""Cost centres in the API: the tree and a statement's chargeback by cost centre (usage by cost centre is
``usageSummary(groupBy: [COST_CENTRE])`` in portal.api.usage)."""

import graphene

from billing.costcentres.chargeback import statement_chargeback
from billing.costcentres.journal import gl_account_of
from billing.costcentres.selectors import chargeback_by_cost_centre, chargeback_statements, cost_centre_tree
from billing.costcentres.services import journal_settings_of
from portal.api.core.nodes import caller
from portal.api.permissions import Permission


class CostCentreType(graphene.ObjectType):
    class Meta:
        name = "CostCentre"
        description = "A node of the organization's cost centre tree."

    code = graphene.String(required=True, description="The cost centre's code (unique in the organization).")
    name = graphene.String(required=True, description="Its name.")
    gl_account = graphene.String(description="Its own GL account; null when it books to its parent's.")
    parent_code = graphene.String(description="The parent's code; null for a root.")
    depth = graphene.Int(required=True, description="0 for a root, 1 below it, and so on.")
    active = graphene.Boolean(required=True, description="Inactive cost centres take no new rules.")


class CostCentreChargeType(graphene.ObjectType):
    class Meta:
        name = "CostCentreCharge"
        description = "One cost centre's share of a statement (or the unallocated rest, with a null costCentre)."

    cost_centre = graphene.Field(CostCentreType, description="Null for what no rule allocates.")
    gl_account = graphene.String(description="The account it books to (its own, an ancestor's or the default).")
    net = graphene.Decimal(required=True, description="Its share of the statement's lines.")
    tax = graphene.Decimal(required=True, description="Its share of the statement's tax.")
    gross = graphene.Decimal(required=True, description="net + tax.")
    rolled_gross = graphene.Decimal(required=True, description="Gross with every cost centre below it.")


class StatementChargebackType(graphene.ObjectType):
    class Meta:
        name = "StatementChargeback"
        description = "An issued statement shared out over the cost centres; the gross amounts add up to its total."

    number = graphene.String(required=True, description="The statement's number.")
    currency = graphene.String(required=True, description="ISO 4217.")
    total = graphene.Decimal(required=True, description="The statement's total.")
    cost_centres = graphene.List(
        graphene.NonNull(CostCentreChargeType), required=True, description="The tree depth first, unallocated last."
    )


def _centre(node, depth):
    return CostCentreType(
        code=node.code,
        name=node.name,
        gl_account=node.gl_account or None,
        parent_code=node.parent.code if node.parent_id else None,
        depth=depth,
        active=node.active,
    )


PERMISSIONS = {"costCentres": Permission.STATEMENTS, "statementChargeback": Permission.STATEMENTS}


class Query(graphene.ObjectType):
    cost_centres = graphene.List(
        graphene.NonNull(CostCentreType), required=True, description="The cost centre tree, depth first."
    )
    statement_chargeback = graphene.Field(
        StatementChargebackType,
        description="An issued statement by cost centre; null when there is none for you (it needs a caller who "
        "sees the whole organization's billing).",
        number=graphene.String(required=True, description="Statement number, e.g. 2026-000123."),
    )

    def resolve_cost_centres(root, info):
        organization = caller(info).scope.organization
        tree = cost_centre_tree(organization=organization)
        by_pk = {node.pk: node for node, _depth in tree}
        for node, _depth in tree:
            node.parent = by_pk.get(node.parent_id)
        return [_centre(node, depth) for node, depth in tree]

    def resolve_statement_chargeback(root, info, number):
        scope = caller(info).scope
        statement = chargeback_statements(scope=scope).select_related("organization").filter(number=number).first()
        if statement is None:
            return None
        result = statement_chargeback(statement=statement)
        default = journal_settings_of(statement.organization).default_gl_account
        depth_of = {node.pk: depth for node, depth in cost_centre_tree(organization=statement.organization)}
        rows = [
            CostCentreChargeType(
                cost_centre=_centre(result.cost_centres[row.cost_centre.pk], depth_of[row.cost_centre.pk])
                if row.cost_centre
                else None,
                gl_account=gl_account_of(result.cost_centres[row.cost_centre.pk] if row.cost_centre else None, default)
                or None,
                net=row.net,
                tax=row.tax,
                gross=row.gross,
                rolled_gross=row.rolled_gross,
            )
            for row in chargeback_by_cost_centre(result)
        ]
        return StatementChargebackType(
            number=statement.number, currency=statement.currency, total=statement.total, cost_centres=rows
        )
