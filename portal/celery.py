import os
import sys
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def _run_by_the_celery_command() -> bool:
    """``celery -A portal worker`` (or ``python -m celery``): this module is then the worker's entry point."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "celery" or program.parent.name == "celery"


if _run_by_the_celery_command():
    from portal.db import start_embedded_database_if_needed

    start_embedded_database_if_needed()

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
