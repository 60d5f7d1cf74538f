from billing.models.accounts import Line, LineAssignment, LinePlan, Location, Organization, Person
from billing.models.anomalies import AnomalyAlert, AnomalyAlertSetting
from billing.models.audit import AuditLog
from billing.models.catalog import Plan, PlanAllowance, PlanRate
from billing.models.choices import Category, Direction, DurationBand, EInvoiceFormat, UsageType, VatCategory
from billing.models.costcentres import (
    AllocationRule,
    AllocationShare,
    CostCentre,
    JournalFormat,
    JournalSettings,
)
from billing.models.einvoice import StatementEInvoice
from billing.models.findings import BillFinding
from billing.models.offer_events import (
    OfferAcceptance,
    OfferChangeRequest,
    OfferDecision,
    OfferImpression,
    OfferOutcome,
    OfferResponse,
)
from billing.models.offers import Offer, OfferCampaign, OfferRecommendation, OfferRun
from billing.models.payments import Payment
from billing.models.sources import LineIdentifier, UsageSource
from billing.models.statements import (
    Adjustment,
    Dispute,
    Statement,
    StatementBreakdown,
    StatementLine,
    StatementNumberSequence,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from billing.models.usage import ImportBatch, ImportRejection, UsageDaily, UsageHourly, UsageMonthly, UsageRecord

__all__ = [
    "AllocationRule",
    "AllocationShare",
    "CostCentre",
    "JournalFormat",
    "JournalSettings",
    "AnomalyAlert",
    "AnomalyAlertSetting",
    "BillFinding",
    "Payment",
    "EInvoiceFormat",
    "StatementEInvoice",
    "VatCategory",
    "AuditLog",
    "Offer",
    "OfferAcceptance",
    "OfferCampaign",
    "OfferChangeRequest",
    "OfferDecision",
    "OfferImpression",
    "OfferOutcome",
    "OfferRecommendation",
    "OfferResponse",
    "OfferRun",
    "Dispute",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Adjustment",
    "Statement",
    "StatementBreakdown",
    "StatementLine",
    "StatementNumberSequence",
    "Category",
    "Direction",
    "DurationBand",
    "ImportBatch",
    "ImportRejection",
    "Line",
    "LineIdentifier",
    "UsageSource",
    "LineAssignment",
    "LinePlan",
    "Location",
    "Organization",
    "Person",
    "Plan",
    "PlanAllowance",
    "PlanRate",
    "UsageDaily",
    "UsageMonthly",
    "UsageHourly",
    "UsageRecord",
    "UsageType",
]
