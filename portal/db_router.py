"""Send the read-only usage selectors to a read replica when ``DATABASE_REPLICA_URL`` is set.

Only reads that say they tolerate replica lag (the ``replica_ok`` hint, given by the usage summary and
drill-down selectors) go to the replica; everything else, including the billing run's reads of usage
records, stays on the primary, so a statement is never computed from a replica that is behind.
"""

from __future__ import annotations

from django.conf import settings

REPLICA = "replica"


class ReadReplicaRouter:
    def db_for_read(self, model, **hints):
        if hints.get("replica_ok") and REPLICA in settings.DATABASES:
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary: objects read from either may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None
