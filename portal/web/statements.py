"""Statement PDF downloads: for signed-in users and API tokens of the organization, audited."""

from functools import wraps
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse

from billing.audit import AuditAction, audit_write
from billing.models import Statement, StatementEInvoice, UsageRecord
from billing.offers.responses import offer_impressions_record
from billing.offers.selectors import statement_pdf_offers
from portal.actors import actor_of_request
from portal.api.core.auth import AuthenticationFailed, authenticate_token, bearer_token, session_caller
from portal.models import ApiToken
from portal.spreadsheets import plain_csv_lines, safe_cell  # noqa: F401 - safe_cell: the exports' guard, re-exported
from portal.web.access import elsewhere, statement_owner


def _caller(request):
    try:
        raw = bearer_token(request)
        return authenticate_token(raw, ip_address=request.META.get("REMOTE_ADDR")) if raw else session_caller(request)
    except AuthenticationFailed:
        return None


def _statement(caller, statement_id: int):
    return (
        Statement.objects.select_related("organization")
        .filter(pk=statement_id, organization=caller.scope.organization)
        .exclude(status=Statement.Status.DRAFT)
        .first()
    )


def _not_here(request, caller, statement_id: int):
    """404, unless a signed-in user follows a link to a statement of another of their organizations: then
    a page offers to switch there (an API token acts in its own organization only)."""
    if caller.token is None:
        request.caller = caller  # the page's header shows where the user is working now
        owner = statement_owner(statement_id)
        if owner != caller.membership.organization_id:
            offer = elsewhere(request, owner, billing=True)
            if offer is not None:
                return offer
    raise Http404("No such statement")


def _signed_in(view):
    """The download views' one caller lookup: 401 without a session or token; 404 for another organization's
    statement, or for a role or token that may not read statements, exactly like a statement that does not
    exist. The view gets (request, caller, statement)."""

    @wraps(view)
    def wrapped(request, statement_id: int):
        caller = _caller(request)
        if caller is None:
            return HttpResponse(
                "Sign in, or send 'Authorization: Bearer <token>'.", status=401, content_type="text/plain"
            )
        statement = _statement(caller, statement_id)
        if statement is None or not caller.sees_billing or not caller.may(ApiToken.Scope.STATEMENTS_READ):
            return _not_here(request, caller, statement_id)
        return view(request, caller, statement)

    return wrapped


@_signed_in
def statement_pdf(request, caller, statement):
    if statement.pdf_status != Statement.PdfStatus.READY:
        response = HttpResponse(
            "The PDF is being prepared; try again in a minute.", status=503, content_type="text/plain"
        )
        response["Retry-After"] = "60"
        return response
    path = Path(settings.MEDIA_ROOT) / statement.pdf_file
    if not path.is_file():
        raise Http404("No such statement")
    with transaction.atomic():  # the download's audit row and its offer impressions, together
        audit_write(
            organization=statement.organization,
            action=AuditAction.STATEMENT_PDF_DOWNLOADED,
            actor=actor_of_request(request, caller),
            target=statement.number,
        )
        frozen_offers = statement_pdf_offers(statement=statement)
        if frozen_offers:  # the PDF carries these offers: a download is an impression of each
            offer_impressions_record(
                organization=statement.organization,
                recommendation_ids=[offer["id"] for offer in frozen_offers],
                channel="pdf",
                user=caller.user,
            )
    response = FileResponse(
        path.open("rb"), content_type="application/pdf", as_attachment=True, filename=statement.pdf_filename
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["ETag"] = f'"{statement.pdf_sha256}"'
    return response


def statement_einvoice(request, statement_id: int):
    """The statement's e-invoice XML (CII for Factur-X/XRechnung, UBL for Peppol), as issued; audited."""
    caller = _caller(request)
    if caller is None:
        return HttpResponse("Sign in, or send 'Authorization: Bearer <token>'.", status=401, content_type="text/plain")
    statement = _statement(caller, statement_id)
    if statement is None or not caller.sees_billing or not caller.may(ApiToken.Scope.STATEMENTS_READ):
        return _not_here(request, caller, statement_id)
    einvoice = StatementEInvoice.objects.filter(statement=statement).first()
    if einvoice is None:  # issued before e-invoices existed, or a statement without lines
        raise Http404("This statement has no e-invoice")
    with transaction.atomic():
        audit_write(
            organization=statement.organization,
            action=AuditAction.STATEMENT_EINVOICE_DOWNLOADED,
            actor=actor_of_request(request, caller),
            target=statement.number,
            details={"format": einvoice.format},
        )
    response = HttpResponse(einvoice.xml.encode("utf-8"), content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{einvoice.filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    response["ETag"] = f'"{einvoice.sha256}"'
    return response


# The columns of the statement's calls CSV, before the cost column.
CALL_COLUMNS = [
    "start_local",
    "line",
    "person",
    "location",
    "usage_type",
    "direction",
    "answered",
    "other_party",
    "category",
    "country",
    "duration_seconds",
    "billable_seconds",
    "data_bytes",
]


@_signed_in
def statement_calls_csv(request, caller, statement):
    """Every usage record of a statement's period as CSV (the detail that does not belong in the PDF)."""
    org = statement.organization
    tz = org.tz
    reveal = caller.scope.reveal_numbers
    rows = (
        UsageRecord.objects.filter(organization=org, local_date__range=(statement.period_start, statement.period_end))
        .order_by("started_at", "id")
        .values_list(
            "started_at",
            "line__number",
            "person__name",
            "location__name",
            "usage_type",
            "direction",
            "answered",
            "destination",
            "destination_masked",
            "category",
            "country",
            "duration_seconds",
            "billable_seconds",
            "data_bytes",
            "cost",
        )
    )
    header = [*CALL_COLUMNS, f"cost_{org.currency}"]

    def rows_of(values):
        for (
            started,
            line,
            person,
            location,
            kind,
            direction,
            answered,
            full,
            masked,
            category,
            country,
            seconds,
            billable,
            data_bytes,
            cost,
        ) in values.iterator(chunk_size=5000):
            yield [
                started.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                line,
                person,
                location,
                kind,
                direction,
                "yes" if answered else "no",
                full if reveal else masked,
                category,
                country,
                seconds,
                billable,
                data_bytes,
                cost,
            ]

    audit_write(
        organization=org,
        action=AuditAction.STATEMENT_CALLS_EXPORTED,
        actor=actor_of_request(request, caller),
        target=statement.number,
    )
    response = StreamingHttpResponse(plain_csv_lines(header, rows_of(rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{org.account_number}-{statement.period_start:%Y-%m}-calls.csv"'
    )
    return response
