"""What the product's management commands share: the staff user named on the command line."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def user_named(username: str | None):
    """The user ``--by USERNAME`` names (for the audit log), None without one; a name nobody has is an error."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user '{username}'")
    return user
