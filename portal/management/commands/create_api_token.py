from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.api.core.auth import ALL_SCOPES, token_create
from portal.models import Membership


class Command(BaseCommand):
    help = "Create an API token for a user's membership in an organization; the token is printed once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--organization", help="Account number (needed when the user is in several)")
        parser.add_argument("--name", default="API token")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=sorted(ALL_SCOPES),
            help="Repeat for several; default: all",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, organization, name, scopes, expires_in_days, **options):
        memberships = Membership.objects.select_related("organization").filter(user__username=username)
        if organization:
            memberships = memberships.filter(organization__account_number=organization)
        found = list(memberships[:2])
        if not found:
            raise CommandError(f"no membership for user '{username}'" + (f" in {organization}" if organization else ""))
        if len(found) > 1:
            raise CommandError(f"'{username}' is in several organizations: pass --organization ACCOUNT")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token, raw = token_create(
            membership=found[0], name=name, scopes=scopes or sorted(ALL_SCOPES), expires_at=expires_at
        )
        self.stderr.write(
            f"Token '{name}' for {username} @ {found[0].organization.name} ({found[0].get_role_display()}), "
            f"scopes {', '.join(token.scopes)}; shown once, store it now:"
        )
        self.stdout.write(raw)
