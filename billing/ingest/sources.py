"""Services: declaring a usage source and the identifiers of lines in it (keyword-only, one transaction)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import Line, LineIdentifier, Organization, UsageSource


class SourceError(ValueError):
    """What is wrong with a usage source or identifier, in words for the person declaring it."""


@transaction.atomic
def usage_source_save(*, organization: Organization, slug: str, **settings) -> UsageSource:
    """Declare the usage source ``slug`` of ``organization``, or change its settings (format, clock,
    time_format, clock_check, columns, match_by, outside/international/national prefixes,
    extension_lengths, name, active)."""
    source = UsageSource.objects.select_for_update().filter(slug=slug).first() or UsageSource(slug=slug)
    if source.pk and source.organization_id != organization.id:
        raise SourceError(f"usage source {slug} belongs to another organization")
    source.organization = organization
    unknown = [k for k in settings if not hasattr(source, k)]
    if unknown:
        raise SourceError(f"unknown setting(s) {', '.join(unknown)}")
    for key, value in settings.items():
        setattr(source, key, value)
    source.name = source.name or slug
    try:
        source.full_clean()
    except ValidationError as exc:
        raise SourceError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    source.save()
    return source


@transaction.atomic
def line_identifier_add(
    *, line: Line, kind: str, value: str, valid_from: datetime, valid_to: datetime | None = None
) -> LineIdentifier:
    """Name ``line`` by ``value`` (an extension, SIP user, DID or account code) from ``valid_from``."""
    identifier = LineIdentifier(
        organization_id=line.organization_id, line=line, kind=kind, value=value.strip(),
        valid_from=valid_from, valid_to=valid_to,
    )  # fmt: skip
    try:
        identifier.full_clean()
        with transaction.atomic():
            identifier.save()
    except ValidationError as exc:
        if "__all__" in exc.message_dict and any("overlap" in m for m in exc.message_dict["__all__"]):
            raise SourceError(f"{kind} {value} already names a line of this organization in that period") from None
        raise SourceError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    except IntegrityError:
        raise SourceError(f"{kind} {value} already names a line of this organization in that period") from None
    return identifier
