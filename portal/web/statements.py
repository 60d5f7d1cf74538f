"""Statement PDF downloads: for signed-in users and API tokens of the organization, audited."""

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse

from billing.models import Statement
from portal.api.core.auth import AuthenticationFailed, authenticate_token, bearer_token, session_caller
from portal.models import ApiToken, AuditLog


def statement_pdf(request, statement_id: int):
    try:
        raw = bearer_token(request)
        caller = authenticate_token(raw, ip_address=request.META.get("REMOTE_ADDR")) if raw else session_caller(request)
    except AuthenticationFailed:
        caller = None
    if caller is None:
        return HttpResponse("Sign in, or send 'Authorization: Bearer <token>'.", status=401, content_type="text/plain")
    statement = (
        Statement.objects.select_related("organization")
        .filter(pk=statement_id, organization=caller.scope.organization)
        .exclude(status=Statement.Status.DRAFT)
        .first()
    )
    # Another organization's statement, or a role that may not see billing: exactly like a missing one.
    if statement is None or not caller.sees_billing or not caller.may(ApiToken.Scope.STATEMENTS_READ):
        raise Http404("No such statement")
    if statement.pdf_status != Statement.PdfStatus.READY:
        response = HttpResponse(
            "The PDF is being prepared; try again in a minute.", status=503, content_type="text/plain"
        )
        response["Retry-After"] = "60"
        return response
    path = Path(settings.MEDIA_ROOT) / statement.pdf_file
    if not path.is_file():
        raise Http404("No such statement")
    AuditLog.objects.create(
        organization=statement.organization,
        user=caller.user,
        token=caller.token,
        action="statement.pdf_downloaded",
        target=statement.number,
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    response = FileResponse(
        path.open("rb"), content_type="application/pdf", as_attachment=True, filename=statement.pdf_filename
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["ETag"] = f'"{statement.pdf_sha256}"'
    return response
