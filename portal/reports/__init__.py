"""Scheduled reports: a registry of report kinds (``registry``), the kinds this module brings (``kinds``:
saved usage views, bill audit findings), schedules and unsubscribing (``services``), when reports are due
and their delivery (``delivery``), and the Celery tasks (``tasks``)."""
