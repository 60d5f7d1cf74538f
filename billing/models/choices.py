from django.db import models
from django.utils.translation import gettext_lazy as _


class UsageType(models.TextChoices):
    VOICE = "voice", _("Voice call")
    SMS = "sms", _("Text message")
    DATA = "data", _("Data session")


class Direction(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class Category(models.TextChoices):
    """Destination category, decided from the called number's prefix (see billing.numbers)."""

    LOCAL = "local", _("Local")
    NATIONAL = "national", _("National")
    MOBILE = "mobile", _("Mobile")
    INTERNATIONAL = "international", _("International")
    TOLL_FREE = "toll_free", _("Toll-free")
    PREMIUM = "premium", _("Premium")
    INTERNAL = "internal", _("Internal")
    OTHER = "other", _("Other")


class DurationBand(models.IntegerChoices):
    """Call duration bands used by analytics and statements; bounds in seconds, lower bound inclusive."""

    UNDER_1_MIN = 0, _("Under 1 min")
    MIN_1_TO_5 = 1, _("1–5 min")
    MIN_5_TO_15 = 2, _("5–15 min")
    MIN_15_TO_60 = 3, _("15–60 min")
    OVER_60_MIN = 4, _("Over 60 min")


DURATION_BAND_BOUNDS = (60, 300, 900, 3600)


def duration_band(seconds: int) -> int:
    for band, bound in enumerate(DURATION_BAND_BOUNDS):
        if seconds < bound:
            return band
    return len(DURATION_BAND_BOUNDS)


# The same rule in SQL, for bulk inserts and rollups.
DURATION_BAND_SQL = (
    "(CASE WHEN {col} < 60 THEN 0 WHEN {col} < 300 THEN 1 WHEN {col} < 900 THEN 2 WHEN {col} < 3600 THEN 3 ELSE 4 END)"
)


# --- E-invoicing (EN 16931) ---
class VatCategory(models.TextChoices):
    """EN 16931 VAT category codes (UNTDID 5305, the subset EN 16931 allows), BT-118 / BT-151."""

    STANDARD = "S", "Standard rate"
    REVERSE_CHARGE = "AE", "Reverse charge (VAT due by the customer)"
    ZERO = "Z", "Zero rated"
    EXEMPT = "E", "Exempt from VAT"
    OUTSIDE_SCOPE = "O", "Outside the scope of VAT"


class EInvoiceFormat(models.TextChoices):
    FACTURX = "facturx", "Factur-X / ZUGFeRD (EN 16931 profile, CII inside the PDF)"
    XRECHNUNG = "xrechnung", "XRechnung 3.0 (CII)"
    PEPPOL = "peppol", "Peppol BIS Billing 3.0 (UBL 2.1)"
