"""Atomic counters for the sign-in and password-reset throttles (portal.signin).

One row per key (a hashed username, email or client address): an attempt increments it with one
``INSERT … ON CONFLICT DO UPDATE … RETURNING``, which PostgreSQL runs under the row's lock, so parallel
attempts never read the same count. Not a model: nothing but that statement reads or writes it, and
rows are short-lived (a window's length). Where REDIS_URL is set the counters live in Redis instead.
"""

from django.db import migrations

CREATE = """
CREATE TABLE IF NOT EXISTS portal_throttle (
    key varchar(64) PRIMARY KEY,
    window_ends timestamptz NOT NULL,
    hits integer NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_throttle_window_ends ON portal_throttle (window_ends);
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0006_token_belongs_to_organization")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE IF EXISTS portal_throttle")]
