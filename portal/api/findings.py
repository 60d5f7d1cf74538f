"""Bill audit findings (billing.audit_findings): read with usage:read within the caller's scope; the status
is set with findings:manage by anyone who sees the finding."""

import graphene

from billing.audit_findings.selectors import findings_summary, findings_visible
from billing.audit_findings.services import FindingError, finding_set_status
from billing.models import BillFinding
from portal.actors import actor_of_request
from portal.api.core.errors import ApiError, Codes
from portal.api.core.nodes import caller, decode_id, encode_id
from portal.api.permissions import Permission, require
from portal.api.statements import MutationError

FindingKind = graphene.Enum(
    "BillFindingKind",
    [(k.upper(), k) for k in BillFinding.Kind.values],
    description="idle line, overage, unassigned line, rate differs from contract.",
)
FindingStatus = graphene.Enum(
    "BillFindingStatus", [(s.upper(), s) for s in BillFinding.Status.values], description="What people decided."
)


class BillFindingType(graphene.ObjectType):
    class Meta:
        name = "BillFinding"
        description = "Money a line pays for nothing, or could pay less: its value per month and its status."

    id = graphene.ID(required=True, description="Finding id.")
    kind = FindingKind(required=True, description="Which rule found it.")
    title = graphene.String(required=True, description="The rule, in words.")
    line_number = graphene.String(required=True, description="The line, E.164.")
    person_name = graphene.String(description="Who held the line (for an unassigned line: who held it last).")
    monthly_value = graphene.Decimal(required=True, description="Per month, in `currency`.")
    currency = graphene.String(required=True, description="ISO 4217.")
    details = graphene.JSONString(required=True, description="What was measured (days, months, plans, rates).")
    suggested_plan = graphene.String(description="Code of the cheaper plan, for an overage finding.")
    status = FindingStatus(required=True, description="open, dismissed or done.")
    note = graphene.String(required=True, description="The note given with the status.")
    status_changed_at = graphene.DateTime(description="When the status was last set.")

    def resolve_id(f, info):
        return encode_id("BillFinding", f.pk)

    def resolve_title(f, info):
        return f.get_kind_display()

    def resolve_line_number(f, info):
        return f.line.number

    def resolve_person_name(f, info):
        return f.person.name if f.person_id else None

    def resolve_suggested_plan(f, info):
        return f.suggested_plan.code if f.suggested_plan_id else None


class BillFindingsType(graphene.ObjectType):
    class Meta:
        name = "BillFindings"
        description = "The findings of your scope and what the open ones are worth a month."

    open_count = graphene.Int(required=True, description="Open findings.")
    open_monthly_value = graphene.Decimal(required=True, description="Sum of the open findings' monthly values.")
    findings = graphene.List(graphene.NonNull(BillFindingType), required=True, description="Highest value first.")


PERMISSIONS = {"billAuditFindings": Permission.USAGE, "setFindingStatus": Permission.FINDINGS_MANAGE}


def _scope(info):
    scope = caller(info).scope
    if scope.person_ids is not None:
        raise ApiError("your role may not see bill audit findings", Codes.FORBIDDEN)
    return scope


class Query(graphene.ObjectType):
    bill_audit_findings = graphene.Field(
        BillFindingsType,
        required=True,
        status=FindingStatus(description="Only findings with this status (default: every status)."),
        description="Bill audit findings of your scope (administrators and analysts: all; location managers: "
        "their locations' lines).",
    )

    def resolve_bill_audit_findings(root, info, status=None):
        scope = _scope(info)
        summary = findings_summary(scope)
        value = getattr(status, "value", status)
        return BillFindingsType(
            open_count=summary.open_count,
            open_monthly_value=summary.open_monthly_value,
            findings=list(findings_visible(scope, status=value)),
        )


class SetFindingStatus(graphene.Mutation):
    class Meta:
        description = "Mark a finding open, dismissed or done, with a note (audited)."

    class Arguments:
        id = graphene.ID(required=True, description="The finding's id.")
        status = FindingStatus(required=True, description="The new status.")
        note = graphene.String(default_value="", description="Why (at most 500 characters).")

    finding = graphene.Field(BillFindingType, description="The finding, when saved.")
    errors = graphene.List(graphene.NonNull(MutationError), required=True, description="Empty on success.")

    def mutate(root, info, id, status, note=""):
        c = require(info, Permission.FINDINGS_MANAGE)
        pk = decode_id(id, "BillFinding", "id")[1]
        finding = findings_visible(_scope(info), active=None).filter(pk=pk).first()
        if finding is None:
            return SetFindingStatus(
                errors=[MutationError(field="id", code=Codes.NOT_FOUND, message="id: no such finding")]
            )
        try:
            finding = finding_set_status(
                finding=finding,
                status=getattr(status, "value", status),
                note=note,
                actor=actor_of_request(info.context, c),
            )
        except FindingError as error:
            return SetFindingStatus(
                errors=[MutationError(field=error.field, code=Codes.BAD_ARGUMENT, message=str(error))]
            )
        return SetFindingStatus(finding=finding, errors=[])


class Mutation(graphene.ObjectType):
    set_finding_status = SetFindingStatus.Field(description="Set a bill audit finding's status.")
