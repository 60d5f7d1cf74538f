"""The audit log: one append-only row per action worth answering "who did what, when" for.

The table predates this model (it was created by the portal's first migration as ``portal_auditlog``) and keeps its
name, its rows and its trigger, which refuses updates and deletes (a purge must ``SET LOCAL
portal.allow_audit_delete = 'on'``). The domain owns it so that domain services can write their audit row in their
own transaction; see ``billing.audit`` for the action types and ``audit_write``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    """Append-only record of sign-ins, token use, exports, PDF downloads, role and consent changes, disputes...

    A database trigger rejects updates and deletes."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(
        "billing.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    # The API token the action was done with. A lazy reference by name: the model lives at the edge (tokens are how
    # the portal authenticates integrations) and the domain never imports it.
    token = models.ForeignKey("portal.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "portal_auditlog"
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "-at"], name="audit_org_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"
