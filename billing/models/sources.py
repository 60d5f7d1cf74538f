"""Usage sources (the phone systems that send us call records) and the identifiers lines have in them."""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Func, Q

from billing.models.accounts import Line, Organization, TsTzRange, validate_time_zone


class _Twice(Func):
    """A Func whose template names its expressions twice: their parameters go twice too (Django gives
    them once, which breaks the query ``full_clean`` runs to check an exclusion constraint)."""

    def as_sql(self, compiler, connection, **extra):
        sql, params = super().as_sql(compiler, connection, **extra)
        return sql, (*params, *params)


class OneId(_Twice):
    """``int8range(id, id, '[]')``, as ``SingleIdRange``, checkable by ``full_clean``."""

    template = "int8range(%(expressions)s, %(expressions)s, '[]')"
    output_field = models.BigIntegerField()


class KindValueKey(_Twice):
    """``kind:value`` as a one-point int8 range of its 64-bit hash: equality of text in a GiST exclusion
    constraint without btree_gist (which the embedded PostgreSQL lacks). Two different values with the
    same 64-bit hash would be refused as overlapping; that is the price, and it is astronomically rare."""

    arg_joiner = " || ':' || "
    template = "int8range(hashtextextended(%(expressions)s, 0), hashtextextended(%(expressions)s, 0), '[]')"
    output_field = models.BigIntegerField()


def validate_clock(value: str) -> None:
    if value != "UTC":
        validate_time_zone(value)


def validate_extension_lengths(value: str) -> None:
    for part in filter(None, (p.strip() for p in value.split(","))):
        if not part.isdigit() or not 1 <= int(part) <= 8:
            raise ValidationError(f"{part!r}: extension lengths are numbers 1–8, separated by commas (e.g. 3,4)")


class UsageSource(models.Model):
    """A phone system of one organization that sends us its call records (a PBX, a hosted PBX, a
    vendor's export): how its files are laid out, which clock it writes, how its users dial, and how
    a row names the organization's line. Files for it go to ``USAGE_DROP_DIR/<slug>/``."""

    class Format(models.TextChoices):
        ASTERISK = "asterisk", "Asterisk cdr_csv (Master.csv, 16–21 columns)"
        FREESWITCH = "freeswitch", "FreeSWITCH mod_cdr_csv (a shipped template)"
        CUSTOM = "custom", "Custom columns without a header (cdr_custom, a FreeSWITCH template)"
        HEADER = "header", "Export with a header row (e.g. Grandstream UCM)"
        NATIVE = "native", "Native CSV (README)"

    class TimeFormat(models.TextChoices):
        TEXT = "text", "Date and time text (YYYY-MM-DD HH:MM:SS)"
        EPOCH = "epoch", "Seconds since 1970 (UTC)"
        FRACTIONAL = "fractional", "Seconds since 1970 with a fraction (UTC)"

    class ClockCheck(models.TextChoices):
        WARN = "warn", "Warn and load"
        REFUSE = "refuse", "Refuse the file"

    MATCH_METHODS = ("number", "extension", "channel", "account_code")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_sources")
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=50, unique=True, help_text="Its drop folder: USAGE_DROP_DIR/<slug>/ (and --source SLUG)"
    )
    format = models.CharField(max_length=12, choices=Format.choices)
    columns = models.JSONField(
        default=dict,
        blank=True,
        help_text='custom/header: our field -> column number (1-based) or header name, e.g. {"src": 2, "dst": 3, '
        '"start": 10, "duration": 13, "billsec": 14, "disposition": 15, "uniqueid": 17}',
    )
    clock = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_clock],
        help_text="The zone of the times the PBX writes: UTC (Asterisk usegmtime=yes) or an IANA zone",
    )
    time_format = models.CharField(max_length=10, choices=TimeFormat.choices, default=TimeFormat.TEXT)
    clock_check = models.CharField(
        max_length=6,
        choices=ClockCheck.choices,
        default=ClockCheck.REFUSE,
        help_text="When the uniqueids contradict the clock: refuse the file (nothing shifted gets in) or warn",
    )
    outside_prefix = models.CharField(
        max_length=4, blank=True, validators=[RegexValidator(r"^\d*$")], help_text="Digit(s) for an outside line: 0, 9"
    )
    international_prefix = models.CharField(
        max_length=4, blank=True, validators=[RegexValidator(r"^\d*$")], help_text="Blank: the country's own (00, 011)"
    )
    national_prefix = models.CharField(
        max_length=4, blank=True, validators=[RegexValidator(r"^\d*$")], help_text="Blank: the country's own (0, 1)"
    )
    extension_lengths = models.CharField(
        max_length=20, blank=True, validators=[validate_extension_lengths], help_text="e.g. 3,4 (blank: up to 6)"
    )
    match_by = models.CharField(
        max_length=60,
        default="number,extension,channel",
        help_text="How a row names our line, tried in order: number (E.164 or national, DIDs), extension, "
        "channel (SIP/1001-0000a1b2 -> 1001), account_code",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="usage_source_name_unique")]

    def __str__(self):
        return f"{self.name} ({self.slug})"

    def clean(self):
        unknown = [m for m in self.match_methods() if m not in self.MATCH_METHODS]
        if unknown:
            raise ValidationError({"match_by": f"unknown method(s) {', '.join(unknown)}: use {self.MATCH_METHODS}"})
        if self.format in (self.Format.CUSTOM, self.Format.HEADER):
            from billing.ingest.formats import FormatError, check_mapping

            try:
                check_mapping(self.columns, header=self.format == self.Format.HEADER)
            except FormatError as exc:
                raise ValidationError({"columns": str(exc)}) from None

    def match_methods(self) -> list[str]:
        return [m.strip() for m in self.match_by.split(",") if m.strip()]

    def dial_plan(self):
        from billing.dialplan import DialPlan

        return DialPlan(
            country=self.organization.country,
            outside_prefix=self.outside_prefix,
            international_prefix=self.international_prefix or None,
            national_prefix=self.national_prefix or None,
            extension_lengths=tuple(int(p) for p in self.extension_lengths.split(",") if p.strip()),
        )


class LineIdentifier(models.Model):
    """What a line is called inside the organization's phone system, from ``valid_from`` (inclusive)
    to ``valid_to`` (exclusive): an extension (``1001``), a SIP user (the ``201`` of ``PJSIP/201-…``),
    an extra DID routed to it (E.164), or an account code. One value of one kind never names two lines
    of one organization at the same time (enforced by PostgreSQL)."""

    class Kind(models.TextChoices):
        EXTENSION = "extension", "Extension"
        SIP_USER = "sip_user", "SIP user / channel"
        DID = "did", "DID (E.164)"
        ACCOUNT_CODE = "account_code", "Account code"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    value = models.CharField(max_length=64)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["line", "kind", "valid_from"]
        indexes = [models.Index(fields=["organization", "kind", "value"], name="line_identifier_lookup")]
        constraints = [
            ExclusionConstraint(
                name="line_identifier_no_overlap",
                expressions=[
                    (OneId("organization"), RangeOperators.OVERLAPS),
                    (KindValueKey("kind", "value"), RangeOperators.OVERLAPS),
                    (TsTzRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="line_identifier_period_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.value} -> {self.line}"
