"""The report kinds this module brings: a saved usage view, and the bill audit findings."""

from __future__ import annotations

from dataclasses import replace

from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.audit_findings.selectors import findings_visible
from billing.models import BillFinding
from billing.usage.scope import Scope
from billing.usage.selectors import Period
from portal.models import SavedView
from portal.reports.registry import ReportKind, Table, register
from portal.web.exports import explorer_table
from portal.web.findings_pages import finding_text
from portal.web.usage_forms import UsageQueryForm


class ReportSourceError(ValueError):
    pass


def _saved_views(membership) -> list[tuple[str, str]]:
    views = SavedView.objects.filter(user=membership.user, organization=membership.organization)
    return [(str(v.pk), v.name) for v in views]


def saved_view_table(scope: Scope, source: str, period: Period) -> Table:
    """The saved explorer view for the report's period (its own period choice is replaced by it)."""
    view = SavedView.objects.filter(organization=scope.organization, pk=int(source or 0)).first()
    if view is None:
        raise ReportSourceError(_("The saved view of this report no longer exists."))
    data = QueryDict(view.query, mutable=True)
    for name in ("period", "start", "end", "day", "week", "month", "after", "before", "format"):
        data.pop(name, None)
    data.update({"period": "custom", "start": period.start.isoformat(), "end": period.end.isoformat()})
    if not data.getlist("dim"):
        data.setlist("dim", ["location"])
    form = UsageQueryForm(data, scope=scope)
    if not form.is_valid():
        raise ReportSourceError(
            _("The saved view “%(name)s” no longer applies: %(errors)s")
            % {
                "name": view.name,
                "errors": "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
            }
        )
    sheet = explorer_table(scope, form)
    return Table(
        title=f"{view.name} {period.start}–{period.end}",
        header=[column.header for column in sheet.columns],
        rows=[list(row) for row in sheet.rows],
        notes=[f"{what}: {value}" for what, value in sheet.about],
        sheet=replace(sheet, about=[]),  # the mail says what it is; row 1 is the header
    )


def findings_table(scope: Scope, source: str, period: Period) -> Table:
    """The open bill audit findings of the scope, as they stand at delivery (the period is the report's)."""
    rows = [
        [
            f.get_kind_display(),
            f.line.number,
            f.person.name if f.person_id else "",
            finding_text(f),
            f.monthly_value,
            f.currency,
            f.get_status_display(),
        ]
        for f in findings_visible(scope, status=BillFinding.Status.OPEN)
    ]
    total = sum((row[4] for row in rows), start=0)
    header = [_("Finding"), _("Line"), _("Person"), _("What was found"), _("Per month"), _("Currency"), _("Status")]
    notes = [
        _("Open findings: %(n)s, worth %(total)s %(currency)s a month.")
        % {
            "n": len(rows),
            "total": total,
            "currency": scope.organization.currency,
        }
    ]
    return Table(title=_("Bill audit findings"), header=header, rows=rows, notes=notes)


SAVED_VIEW = register(ReportKind("saved_view", gettext_lazy("Saved usage view"), _saved_views, saved_view_table))
FINDINGS = register(
    ReportKind(
        "findings",
        gettext_lazy("Bill audit findings"),
        lambda membership: [("", gettext_lazy("Open findings"))],
        findings_table,
    )
)
