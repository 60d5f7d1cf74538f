"""``manage.py`` (and the ``billing-portal`` command of an installed portal): Django's command line, after
starting the embedded PostgreSQL when no DATABASE_URL is set (see portal.db)."""

import os
import sys


def main(argv=None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from portal.db import start_embedded_database_if_needed

    start_embedded_database_if_needed()
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv or sys.argv)
