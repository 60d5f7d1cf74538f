from billing.models.accounts import Line, LineAssignment, LinePlan, Location, Organization, Person
from billing.models.audit import AuditLog
from billing.models.catalog import Plan, PlanAllowance, PlanRate
from billing.models.choices import Category, Direction, DurationBand, UsageType
from billing.models.offers import (
    Offer,
    OfferChangeRequest,
    OfferImpression,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
)
from billing.models.payments import Payment
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
    "Payment",
    "AuditLog",
    "Offer",
    "OfferChangeRequest",
    "OfferImpression",
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
