"""Statements over GraphQL: issued statements with their lines, breakdowns and PDF link."""

import graphene
from django.urls import reverse
from graphene_django import DjangoConnectionField, DjangoObjectType

from billing.models import Payment, Statement, StatementBreakdown, StatementLine
from billing.statements.payments import account_balance, payment_reference
from portal.actors import actor_of_request
from portal.api.accounts import DescribedConnection
from portal.api.core.errors import Codes
from portal.api.core.nodes import ScopedNode
from portal.api.permissions import Permission, require

StatementStatusEnum = graphene.Enum(
    "StatementStatus",
    [(s.name, s.value) for s in Statement.Status if s != Statement.Status.DRAFT],
    description="Where a statement is in its life.",
)
PdfStatusEnum = graphene.Enum("PdfStatus", [(s.name, s.value) for s in Statement.PdfStatus], description="PDF state.")


def visible_statements(info):
    """Issued statements of the caller's organization, for roles (and tokens) that may see billing."""
    c = require(info, Permission.STATEMENTS)
    return Statement.objects.filter(organization=c.scope.organization).exclude(status=Statement.Status.DRAFT)


class StatementLineType(DjangoObjectType):
    class Meta:
        model = StatementLine
        name = "StatementLine"
        description = "One line of a statement; its amount is rounded once to the currency's minor unit."
        fields = ()

    position = graphene.Int(required=True, description="Order on the statement.")
    kind = graphene.String(required=True, description="recurring, usage, allowance or adjustment.")
    description = graphene.String(required=True, description="What is charged, in the statement's language.")
    quantity = graphene.Decimal(required=True, description="Quantity in `unit`.")
    unit = graphene.String(required=True, description="days, min, msg or MB (may be empty).")
    amount = graphene.Decimal(required=True, description="Amount in the statement's currency.")


class StatementBreakdownType(DjangoObjectType):
    class Meta:
        model = StatementBreakdown
        name = "StatementBreakdown"
        description = "Usage of a statement by location, person or duration band (each row rounded once)."
        fields = ()

    dimension = graphene.String(required=True, description="location, person or duration_band.")
    label = graphene.String(required=True, description="Name of the location, person or band.")
    calls = graphene.Int(required=True, description="Voice calls.")
    minutes = graphene.Decimal(required=True, description="Call minutes.")
    messages = graphene.Int(
        required=True, description="Text messages (location and person rows of statements from template v3 on)."
    )
    megabytes = graphene.Decimal(required=True, description="Data in MB (as messages).")
    amount = graphene.Decimal(
        required=True,
        description=(
            "Cost of the usage counted. From template v3 on, location and person rows count every usage type and "
            "add up to the usage total exactly; duration bands count calls and add up to the call lines."
        ),
    )


class PaymentType(DjangoObjectType):
    class Meta:
        model = Payment
        name = "Payment"
        description = "A payment received from the organization."
        interfaces = (ScopedNode,)
        connection_class = DescribedConnection
        fields = ("id",)

    received_on = graphene.Date(required=True, description="Day the money arrived (local).")
    amount = graphene.Decimal(required=True, description="Amount received.")
    currency = graphene.String(required=True, description="ISO 4217 currency.")
    reference = graphene.String(required=True, description="The payer's reference, as received.")
    statement_number = graphene.String(description="The statement that counted it; null until the next one.")

    @classmethod
    def get_queryset(cls, queryset, info):
        c = require(info, Permission.STATEMENTS)  # the same permission as statements
        return Payment.objects.filter(organization=c.scope.organization).select_related("applied_to")

    def resolve_statement_number(payment, info):
        return payment.applied_to.number if payment.applied_to_id else None


class StatementPaymentType(graphene.ObjectType):
    class Meta:
        name = "StatementPayment"
        description = "A payment as a statement shows it (frozen at issue)."

    received_on = graphene.Date(required=True, description="Day the money arrived (local).")
    reference = graphene.String(required=True, description="The payer's reference.")
    amount = graphene.Decimal(required=True, description="Amount received.")


class StatementBalanceType(graphene.ObjectType):
    class Meta:
        name = "StatementBalance"
        description = (
            "The balance of a statement: previousBalance - paymentsReceived = carriedForward; "
            "carriedForward + newCharges = totalDue."
        )

    previous_balance = graphene.Decimal(required=True, description="What the previous statement asked for.")
    payments_received = graphene.Decimal(required=True, description="Payments received since, shown on it.")
    carried_forward = graphene.Decimal(required=True, description="Previous balance less payments received.")
    new_charges = graphene.Decimal(required=True, description="This statement's total (lines plus tax).")
    total_due = graphene.Decimal(required=True, description="Carried forward plus new charges.")
    payments = graphene.List(graphene.NonNull(StatementPaymentType), required=True, description="The payments.")


class AccountBalanceType(graphene.ObjectType):
    class Meta:
        name = "AccountBalance"
        description = "What the organization owes now: the latest statement's total due less payments since."

    currency = graphene.String(required=True, description="ISO 4217 currency.")
    last_statement_number = graphene.String(description="The latest statement (null before the first).")
    last_total_due = graphene.Decimal(required=True, description="What the latest statement asked for.")
    payments_since = graphene.Decimal(required=True, description="Payments received since it.")
    balance = graphene.Decimal(required=True, description="Still owed (negative: in credit).")


class EInvoiceFormatEnum(graphene.Enum):
    class Meta:
        description = "The e-invoice format of a statement."

    FACTURX = "facturx"
    XRECHNUNG = "xrechnung"
    PEPPOL = "peppol"


class EInvoiceType(graphene.ObjectType):
    class Meta:
        name = "EInvoice"
        description = "The EN 16931 e-invoice issued with a statement (CII for Factur-X and XRechnung, UBL for Peppol)."

    format = graphene.Field(EInvoiceFormatEnum, required=True, description="Factur-X, XRechnung or Peppol BIS 3.0.")
    type_code = graphene.String(required=True, description="UNTDID 1001 document type: 380 invoice, 381 credit note.")
    url = graphene.String(required=True, description="Download link for the XML (same authentication).")
    valid = graphene.Boolean(
        required=True, description="Passed the official XSD and rule files at issue (always true: else not issued)."
    )

    def resolve_url(einvoice, info):
        return info.context.build_absolute_uri(reverse("statement-einvoice", args=[einvoice.statement_id]))


class StatementType(DjangoObjectType):
    class Meta:
        model = Statement
        name = "Statement"
        description = "An issued monthly statement. Immutable: corrections appear on a later statement."
        interfaces = (ScopedNode,)
        connection_class = DescribedConnection
        fields = ("id",)

    number = graphene.String(required=True, description="Statement number, YYYY-NNNNNN.")
    period_start = graphene.Date(required=True, description="First day of the billing period (local).")
    period_end = graphene.Date(required=True, description="Last day of the billing period (local).")
    status = graphene.Field(StatementStatusEnum, required=True, description="Issued, paid or void.")
    currency = graphene.String(required=True, description="ISO 4217 currency.")
    recurring_total = graphene.Decimal(required=True, description="Monthly fees.")
    usage_total = graphene.Decimal(required=True, description="Usage charges.")
    adjustments_total = graphene.Decimal(required=True, description="Adjustments and credits.")
    subtotal = graphene.Decimal(required=True, description="Sum of the lines.")
    tax_rate = graphene.Decimal(required=True, description="Tax rate, e.g. 0.1900.")
    tax_amount = graphene.Decimal(required=True, description="Tax on the subtotal, rounded once.")
    total = graphene.Decimal(required=True, description="Subtotal plus tax.")
    previous_balance = graphene.Decimal(required=True, description="What the previous statement asked for.")
    balance = graphene.Field(StatementBalanceType, required=True, description="Balance, payments and total due.")
    payment_reference = graphene.String(
        required=True, description="The ISO 11649 RF creditor reference to pay this statement with."
    )
    issued_at = graphene.DateTime(required=True, description="When it was issued (UTC).")
    due_date = graphene.Date(required=True, description="Payment due date.")
    pdf_status = graphene.Field(PdfStatusEnum, required=True, description="Whether the PDF is ready.")
    pdf_url = graphene.String(description="Download link for the PDF (same authentication); null until ready.")
    einvoice = graphene.Field(
        EInvoiceType, description="The statement's e-invoice; null for statements issued before e-invoices."
    )
    lines = graphene.List(graphene.NonNull(StatementLineType), required=True, description="Line items, in order.")
    disputes = graphene.List(
        graphene.NonNull(lambda: DisputeType), required=True, description="Disputes of its lines and their outcome."
    )
    offers = graphene.List(
        graphene.NonNull("portal.api.offers.OfferType"),
        required=True,
        description="Offers picked for the organization with this statement (offers token scope).",
    )
    breakdowns = graphene.List(
        graphene.NonNull(StatementBreakdownType),
        required=True,
        description="Usage by location, person and duration band.",
        dimension=graphene.String(description="Only this dimension: location, person or duration_band."),
    )

    @classmethod
    def get_queryset(cls, queryset, info):
        return (
            visible_statements(info)
            .select_related("einvoice")
            .defer("einvoice__xml", "einvoice__report")
            .prefetch_related("lines", "breakdowns", "disputes__line", "disputes__adjustment")
        )

    def resolve_pdf_url(statement, info):
        if statement.pdf_status != Statement.PdfStatus.READY:
            return None
        return info.context.build_absolute_uri(reverse("statement-pdf", args=[statement.pk]))

    def resolve_einvoice(statement, info):
        try:
            return statement.einvoice
        except Statement.einvoice.RelatedObjectDoesNotExist:
            return None

    def resolve_lines(statement, info):
        return statement.lines.all()

    def resolve_balance(statement, info):
        from datetime import date

        return StatementBalanceType(
            previous_balance=statement.previous_balance,
            payments_received=statement.payments_total,
            carried_forward=statement.balance_carried_forward
            if statement.total_due is not None
            else statement.previous_balance,
            new_charges=statement.total,
            total_due=statement.amount_due,
            payments=[
                StatementPaymentType(
                    received_on=date.fromisoformat(p["received_on"]), reference=p["reference"], amount=p["amount"]
                )
                for p in (statement.details or {}).get("payments", [])
            ],
        )

    def resolve_payment_reference(statement, info):
        return payment_reference(statement)

    def resolve_disputes(statement, info):
        return [DisputeType.of(d) for d in statement.disputes.all()]

    def resolve_offers(statement, info):
        from portal.api.offers import resolve_statement_offers

        return resolve_statement_offers(statement, info)

    def resolve_breakdowns(statement, info, dimension=None):
        rows = statement.breakdowns.all()
        return [b for b in rows if dimension is None or b.dimension == dimension]


# What each root field and mutation of this module needs (checked by portal.api.permissions).
PERMISSIONS = {
    "statements": Permission.STATEMENTS,
    "statement": Permission.STATEMENTS,
    "payments": Permission.STATEMENTS,
    "balance": Permission.STATEMENTS,
    "disputeStatementLine": Permission.DISPUTE,
}


class Query(graphene.ObjectType):
    statements = DjangoConnectionField(StatementType, description="Issued statements, newest first.")
    statement = graphene.Field(
        StatementType,
        description="One statement by number; null when there is none for you.",
        number=graphene.String(required=True, description="Statement number, e.g. 2026-000123."),
    )

    payments = DjangoConnectionField(PaymentType, description="Payments received, newest first.")
    balance = graphene.Field(
        AccountBalanceType, required=True, description="What the organization owes now (administrators and analysts)."
    )

    def resolve_statements(root, info, **kwargs):
        return StatementType.get_queryset(None, info).order_by("-period_start")

    def resolve_payments(root, info, **kwargs):
        return PaymentType.get_queryset(None, info).order_by("-received_on", "-id")

    def resolve_balance(root, info):
        c = require(info, Permission.STATEMENTS)
        b = account_balance(organization=c.scope.organization)
        return AccountBalanceType(
            currency=b.currency,
            last_statement_number=b.last_statement.number if b.last_statement else None,
            last_total_due=b.last_total_due,
            payments_since=b.payments_since,
            balance=b.balance,
        )

    def resolve_statement(root, info, number):
        return StatementType.get_queryset(None, info).filter(number=number).first()


class DisputeType(graphene.ObjectType):
    class Meta:
        name = "Dispute"
        description = "A dispute of a statement line and its outcome."

    line_position = graphene.Int(required=True, description="Position of the disputed line.")
    reason = graphene.String(required=True, description="Why the customer disputes it.")
    status = graphene.String(required=True, description="open, accepted (credited on a later statement) or rejected.")
    resolution = graphene.String(required=True, description="Staff's answer (empty while open).")
    raised_at = graphene.DateTime(required=True, description="When it was raised.")
    resolved_at = graphene.DateTime(description="When it was resolved.")
    credit = graphene.Decimal(description="The credit granted, when accepted.")

    @staticmethod
    def of(dispute):
        return DisputeType(
            line_position=dispute.line.position,
            reason=dispute.reason,
            status=dispute.status,
            resolution=dispute.resolution,
            raised_at=dispute.raised_at,
            resolved_at=dispute.resolved_at,
            credit=-dispute.adjustment.amount if dispute.adjustment_id else None,
        )


class MutationError(graphene.ObjectType):
    class Meta:
        description = "Why a mutation did nothing: which argument and what is wrong."

    field = graphene.String(description="The argument at fault, if one is.")
    code = graphene.String(required=True, description="Stable error code.")
    message = graphene.String(required=True, description="What is wrong.")


class DisputeStatementLine(graphene.Mutation):
    class Meta:
        description = (
            "Dispute one line of an issued statement (administrators and analysts; token scope statements:dispute)."
        )

    class Arguments:
        number = graphene.String(required=True, description="Statement number.")
        line_position = graphene.Int(required=True, description="Position of the line on the statement.")
        reason = graphene.String(required=True, description="Why (shown to staff).")

    dispute = graphene.Field(DisputeType, description="The dispute, when raised.")
    errors = graphene.List(graphene.NonNull(MutationError), required=True, description="Empty on success.")

    def mutate(root, info, number, line_position, reason):
        from billing.models import StatementLine
        from billing.statements.disputes import dispute_open
        from billing.statements.services import BillingError

        c = require(info, Permission.DISPUTE)
        statement = visible_statements(info).filter(number=number).first()
        line = StatementLine.objects.filter(statement=statement, position=line_position).first() if statement else None
        if line is None:
            return DisputeStatementLine(
                errors=[
                    MutationError(
                        field="linePosition" if statement else "number",
                        code=Codes.NOT_FOUND,
                        message="no such statement line",
                    )
                ]
            )
        try:
            dispute = dispute_open(line=line, reason=reason, actor=actor_of_request(info.context, c))
        except BillingError as exc:
            return DisputeStatementLine(
                errors=[MutationError(field="reason", code=Codes.BAD_ARGUMENT, message=str(exc))]
            )
        return DisputeStatementLine(dispute=DisputeType.of(dispute), errors=[])


class Mutation(graphene.ObjectType):
    dispute_statement_line = DisputeStatementLine.Field(description="Dispute a statement line.")
