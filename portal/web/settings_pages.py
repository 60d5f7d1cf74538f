"""Settings for administrators: members and roles, API tokens, personalization consent (budgets: budget_pages).

Views parse with a form, call one service in portal.account / portal.budgets, and redirect. Every
object is looked up inside the acting organization, so another organization's id is a 404.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.account import (
    EINVOICE_FIELDS,
    AccountError,
    EInvoiceSettingsError,
    consent_set,
    einvoice_settings_set,
    member_change_role,
    member_invite,
    member_remove,
    token_revoke,
)
from portal.api.core.auth import token_create
from portal.models import ApiToken, AuditLog, Budget, Invitation, Membership, Role
from portal.web.access import portal_view
from portal.web.account_forms import ConsentForm, EInvoiceForm, InviteForm, RoleForm, TokenForm

RAW_TOKEN_SESSION_KEY = "new_api_token"  # noqa: S105 - a session key name, not a secret


def _org(request):
    return request.caller.membership.organization


def _form_errors(form, error: AccountError):
    form.add_error(error.field if error.field in form.fields else None, str(error))


@portal_view(admin=True)
def overview(request):
    org = _org(request)
    context = {
        "members": Membership.objects.filter(organization=org).count(),
        "admins": Membership.objects.filter(organization=org, role=Role.ADMIN).count(),
        "active_tokens": sum(
            1 for t in ApiToken.objects.filter(organization=org, revoked_at__isnull=True) if t.is_active
        ),
        "budgets": Budget.objects.filter(organization=org).count(),
        "recent": AuditLog.objects.filter(organization=org).select_related("user")[:10],
    }
    return render(request, "portal/settings/overview.html", context)


def _members(org):
    return (
        Membership.objects.filter(organization=org)
        .select_related("user", "person")
        .prefetch_related("locations")
        .order_by("user__username")
    )


def _invitations(org):
    return Invitation.objects.filter(organization=org, status=Invitation.Status.PENDING).select_related("user")


@portal_view(admin=True)
def members(request):
    org = _org(request)
    form = InviteForm(organization=org)
    if request.method == "POST":
        form = InviteForm(request.POST, organization=org)
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation = member_invite(
                    organization=org,
                    email=data["email"],
                    role=data["role"],
                    locations=list(data["locations"]),
                    person=data["person"],
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except AccountError as error:
                _form_errors(form, error)
            else:
                text = (
                    gettext("%(email)s is now a member; we sent an email with a link to choose a password.")
                    if invitation.new_user
                    else gettext("We sent %(email)s an invitation: they become a member when they accept it.")
                )
                messages.success(request, text % {"email": data["email"]})
                return redirect("settings-members")
    return render(
        request,
        "portal/settings/members.html",
        {"members": _members(org), "form": form, "invitations": _invitations(org)},
        status=400 if form.errors else 200,
    )


@portal_view(admin=True)
def member(request, membership_id: int):
    org = _org(request)
    membership = get_object_or_404(_members(org), pk=membership_id)
    initial = {"role": membership.role, "locations": list(membership.locations.all()), "person": membership.person}
    form = RoleForm(initial=initial, organization=org)
    if request.method == "POST":
        form = RoleForm(request.POST, organization=org)
        if form.is_valid():
            data = form.cleaned_data
            try:
                member_change_role(
                    membership=membership,
                    role=data["role"],
                    locations=list(data["locations"]),
                    person=data["person"],
                    changed_by=request.user,
                )
            except AccountError as error:
                _form_errors(form, error)
            else:
                messages.success(
                    request, gettext("The role of %(user)s was changed.") % {"user": membership.user.username}
                )
                return redirect("settings-members")
    return render(
        request,
        "portal/settings/member.html",
        {"member": membership, "form": form},
        status=400 if form.errors else 200,
    )


@portal_view(admin=True)
@require_POST
def member_delete(request, membership_id: int):
    membership = get_object_or_404(Membership.objects.filter(organization=_org(request)), pk=membership_id)
    try:
        member_remove(membership=membership, removed_by=request.user)
    except AccountError as error:
        messages.error(request, str(error))
        return redirect("settings-member", membership_id=membership.pk)
    messages.success(
        request,
        gettext("%(user)s was removed from %(name)s.")
        % {"user": membership.user.username, "name": membership.organization.name},
    )
    return redirect("settings-members")


def _tokens(org):
    return (
        ApiToken.objects.filter(organization=org)
        .select_related("membership__user")
        .order_by("revoked_at", "-created_at")
    )


@portal_view(admin=True)
def tokens(request):
    org = _org(request)
    form = TokenForm()
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            token, raw = token_create(
                membership=request.caller.membership,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
                created_by=request.user,
            )
            # Kept in the session only until the next page shows it once (then popped).
            request.session[RAW_TOKEN_SESSION_KEY] = {"id": token.pk, "raw": raw}
            return redirect("settings-token-created")
    return render(
        request,
        "portal/settings/tokens.html",
        {"tokens": _tokens(org), "form": form},
        status=400 if form.errors else 200,
    )


@portal_view(admin=True)
def token_created(request):
    shown = request.session.pop(RAW_TOKEN_SESSION_KEY, None)
    token = None
    if shown:
        token = _tokens(_org(request)).filter(pk=shown["id"]).first()
    if token is None:
        messages.info(request, gettext("A token is shown only once, right after it is created."))
        return redirect("settings-tokens")
    response = render(request, "portal/settings/token_created.html", {"token": token, "raw": shown["raw"]})
    response["Cache-Control"] = "no-store"
    return response


@portal_view(admin=True)
@require_POST
def token_delete(request, token_id: int):
    token = get_object_or_404(_tokens(_org(request)), pk=token_id)
    token_revoke(token=token, revoked_by=request.user)
    messages.success(
        request,
        gettext("The token “%(name)s” (%(prefix)s…) was revoked.") % {"name": token.name, "prefix": token.key_prefix},
    )
    return redirect("settings-tokens")


@portal_view(admin=True)
def consent(request):
    org = _org(request)
    form = ConsentForm(initial={"consent": org.personalization_consent})
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            consent_set(organization=org, consent=form.cleaned_data["consent"], changed_by=request.user)
            messages.success(request, gettext("Your personalization setting was saved."))
            return redirect("settings-consent")
    return render(request, "portal/settings/consent.html", {"form": form})


@portal_view(admin=True)
def einvoice(request):
    org = _org(request)
    form = EInvoiceForm(initial={name: getattr(org, name) for name in EINVOICE_FIELDS})
    if request.method == "POST":
        form = EInvoiceForm(request.POST)
        if form.is_valid():
            try:
                einvoice_settings_set(organization=org, changed_by=request.user, **form.cleaned_data)
            except EInvoiceSettingsError as error:
                for field, message in error.errors.items():
                    form.add_error(field, message)
            else:
                messages.success(request, gettext("Your e-invoice settings were saved."))
                return redirect("settings-einvoice")
    status = 400 if form.errors else 200
    return render(request, "portal/settings/einvoice.html", {"form": form}, status=status)


@portal_view()
def privacy(request):
    return render(request, "portal/privacy.html")
