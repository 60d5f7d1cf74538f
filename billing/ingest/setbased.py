# Over 400 lines: the import's SQL is one pipeline (stage, parse, match, classify, insert) whose steps share the layout's column expressions and the table names; split, each piece would only make sense next to the others.
"""The set-based import: a file staged with one COPY, then read, matched and classified as SQL set operations.

Steps, each one SQL statement over all rows (so their number does not grow with the file):

1. ``staging``: the rows, as the file has them, with their file line numbers.
2. parse: per layout (column count), the fields billing uses, trimmed; a row that is not in a shape
   SQL reads exactly as Python would (bytes that are not ASCII in a billing field, very long lines) is
   marked for the row-by-row path (``careful``), which then says exactly why it is rejected or loads it.
3. Python works out, once per distinct value, what needs libphonenumber or time-zone rules or would
   cost a pattern match per row: the line a number belongs to (and the DID it could be), the UTC offset
   and local hour of each wall-clock hour, whether a start's hour, minute:second tail and a duration
   are in the strict forms SQL takes (others, such as ``2026/10/06`` or ``00:01:05``, go row by row),
   the classification of each dialled number per caller area. The results go into small tables.
4. match: the line (by number, extension, channel user, account code, in the source's order, each
   identifier valid at the time of the call), direction, UTC start, local day and hour, and the
   rejection reasons (unknown line, future, before 2000, line not active) as one join.
5. one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the usage table (records already there, or
   twice in the file, are skipped), with the person and location of the line at the time of use; the
   rollups of the touched days are rebuilt set-based (``rollups_rebuild``).

Legs of one call (consecutive rows of one uniqueid, found with a window function) and every row
marked in step 2 or 4 go through ``careful``, the row-by-row reference, whose records join the same
insert. FreeSWITCH b-legs are dropped by a semi-join on the a-legs' ``bleg_uuid``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from billing.ingest import legs, staging
from billing.ingest.careful import EARLIEST, FUTURE_TOLERANCE, Careful, too_long, too_long_reason
from billing.ingest.formats import (
    ASTERISK_COLUMNS,
    FREESWITCH_LAYOUTS,
    MAX_DURATION,
    MAX_FIELD,
    Layout,
    asterisk_layout,
)
from billing.ingest.reading import Reading
from billing.ingest.result import ImportResult, Rejection
from billing.models.choices import DURATION_BAND_BOUNDS
from billing.numbers import caller_area, classify, mask
from billing.usage.rollups import rollups_rebuild
from billing.usage.writer import COLUMNS, WriteResult, record_line_renderer

# Python's str.strip() of ASCII text: these characters, at either end.
WS = r"E' \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f'"
# The strict forms SQL takes (checked in Python once per distinct text): YYYY-MM-DD[ T]HH, :MM:SS[.ffffff], seconds.
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}")
_TAIL = re.compile(r":([0-5][0-9]):([0-5][0-9](?:\.[0-9]{1,6})?)")
_WHOLE = re.compile(r"[0-9]{1,9}")
# (Braces doubled: every statement goes through str.format for its table names.)
_UNIQUEID = r"'^([A-Za-z0-9_.-]*-)?[0-9]{{9,11}}\.[0-9]+$'"  # formats._UNIQUEID for ASCII text
NULL = "\\N"  # COPY's NULL
STAGING = "TEMP"  # session-private and never WAL-logged (see the README's import section)


def applies(reading: Reading) -> bool:
    """Whether this file's rows can be read set-based (else the whole file goes row by row)."""
    if reading.format not in ("asterisk", "freeswitch", "custom", "header") or reading.time_format != "text":
        return False
    if reading.format in ("custom", "header") and (reading.layout is None or not _readable(reading.layout)):
        return False
    return set(reading.directory.methods) <= {"number", "extension", "channel", "account_code"}


def _readable(layout: Layout) -> bool:
    needed = ("src", "dst", "start", "duration", "billsec")
    answer = "disposition" if layout.answered_by == "disposition" else "answer"
    return all(name in layout.columns for name in (*needed, answer))


def _layouts(reading: Reading) -> list[tuple[Layout, str]]:
    """Every layout a row of this format can have, with the SQL condition that picks its rows."""
    if reading.format == "asterisk":
        out = []
        for width in ASTERISK_COLUMNS:
            if width in (17, 20):  # a uniqueid or a userfield in column 17 (ASCII; else row by row)
                uid = f"btrim(a[17], {WS}) ~ {_UNIQUEID}"
                ascii17 = "octet_length(a[17]) = length(a[17])"
                with_uid = asterisk_layout([""] * 16 + ["1700000000.1"] + [""] * (width - 17))
                out.append((with_uid, f"w = {width} AND {ascii17} AND {uid}"))
                out.append((asterisk_layout([""] * width), f"w = {width} AND {ascii17} AND NOT {uid}"))
            else:
                out.append((asterisk_layout([""] * width), f"w = {width}"))
        return out
    if reading.format == "freeswitch":
        return [(layout, f"w = {width}") for width, layout in FREESWITCH_LAYOUTS.items()]
    layout = reading.layout
    if layout.width is not None:
        return [(layout, f"w = {layout.width}")]
    return [(layout, f"w >= {max(layout.columns.values()) + 1}")]


def _shape_reason(reading: Reading) -> str:
    """The SQL text of the reason a row that fits no layout is rejected with (``w``: its column count)."""
    layout = reading.layout
    if reading.format in ("asterisk", "freeswitch"):
        text = reading.shape_reason(-1).replace("-1", "\x01")
    elif layout.width is not None:
        text = f"expected {layout.width} columns, found \x01"
    else:
        text = f"expected at least {max(layout.columns.values()) + 1} columns, found \x01"
    return f"format({_format_text(text)}, w)"


def _format_text(text: str) -> str:
    """A literal for PostgreSQL's format() in a statement with parameters: each \\x01 is a ``%s`` of
    format(), every other ``%`` is literal (doubled for format(), then again for psycopg2), braces
    doubled for the table names' str.format."""
    literal = text.replace("'", "''").replace("%", "%%").replace("\x01", "%s").replace("%", "%%")
    return "'" + literal.replace("{", "{{").replace("}", "}}") + "'"


class SetImport:
    """One import, set-based. ``run()`` returns what the usage writer returns."""

    def __init__(self, cursor, path, text_encoding, reading: Reading, careful: Careful, now: datetime,
                 batch_id: int, result: ImportResult):  # fmt: skip
        self.cursor, self.path, self.text_encoding = cursor, path, text_encoding
        self.reading, self.careful, self.batch_id, self.result = reading, careful, batch_id, result
        self.now = (now + FUTURE_TOLERANCE).astimezone(UTC).replace(tzinfo=None)
        self.directory = reading.directory
        self.t = {name: f"import_{batch_id}_{name}" for name in (
            "stage", "parsed", "hkeys", "tails", "nums", "hours", "parties", "idents", "matched", "lines", "dests", "careful")}  # fmt: skip
        methods = self.directory.methods
        self.has_identifiers = reading.source is not None and bool(self.directory.identifiers)
        self.by_channel = "channel" in methods and self.has_identifiers
        self.by_account = "account_code" in methods and self.has_identifiers

    def sql(self, text: str, params: Iterable = ()) -> None:
        self.result.statements += 1
        self.cursor.execute(text.format(**self.t), list(params))

    def rows(self, text: str, params: Iterable = ()) -> list[tuple]:
        self.sql(text, params)
        return self.cursor.fetchall()

    def copy(self, table: str, columns: str, text: str) -> None:
        self.result.statements += 1
        self.cursor.copy_expert(f"COPY {self.t[table]} ({columns}) FROM STDIN", io.StringIO(text))

    def run(self) -> WriteResult:
        self._create()
        self.staged = staging.stage(self.cursor, self.t["stage"], self.path, self.text_encoding, self.reading,
                                    self.result)  # fmt: skip
        self.result.statements += 1
        self.result.rows = self.staged.rows
        self._parse()
        if self.reading.b_legs_seen:
            self._drop_b_legs()
        if self.reading.legs:
            self._group_legs()
        # Fresh tables have no statistics, and the planner's defaults (e.g. 0.5 % of rows for IS NULL)
        # would hash the whole file instead of the small lookup tables: ANALYZE samples ~30,000 rows.
        self.sql("ANALYZE {parsed}")
        self._parties()
        self._hours()
        self.sql("ANALYZE {parties}, {idents}, {hkeys}, {tails}, {nums}, {hours}")
        self._match()
        self.sql("ANALYZE {matched}")
        self._classify()
        self.sql("ANALYZE {lines}, {dests}")
        self._careful_rows()
        written = self._insert()
        self._drop()
        return written

    # --- tables ---------------------------------------------------------------------------------

    def _create(self) -> None:
        # Memory for the whole-file sorts and hash joins (the default 4 MB sends a million rows' sort to
        # disk), for this import only: the caller's transaction gets its setting back in _drop.
        self.work_mem = self.rows("SELECT current_setting('work_mem'), set_config('work_mem', '256MB', true)")[0][0]
        kind = STAGING
        self.sql(f"CREATE {kind} TABLE {{stage}} (n integer NOT NULL, line text NOT NULL)")
        self.sql(
            f"""CREATE {kind} TABLE {{parsed}} (n integer, held boolean, careful boolean, dropped boolean DEFAULT false,
                reason text, src text, dst text, src_t text, dst_t text, chan_user text, dstchan_user text,
                acct_t text, hour_key text, tail text, du_t text, bi_t text, ans_flag boolean, source_id text, uuid_t text, bleg_t text, legkey text, grp integer)"""
        )
        self.sql(f"CREATE {kind} TABLE {{hkeys}} (hour_key text PRIMARY KEY)")
        self.sql(f"CREATE {kind} TABLE {{tails}} (tail text PRIMARY KEY, mins integer, secs double precision)")
        self.sql(f"CREATE {kind} TABLE {{nums}} (t text PRIMARY KEY, v integer)")
        self.sql(
            f"CREATE {kind} TABLE {{hours}} (org_id integer, hour_key text, utc_start timestamp, local_start timestamp)"
        )
        self.sql(f"CREATE {kind} TABLE {{parties}} (x text PRIMARY KEY, line_id integer, did text)")
        self.sql(
            f"CREATE {kind} TABLE {{idents}} (kind text, value text, valid_from timestamp, valid_to timestamp, line_id integer)"
        )
        self.sql(
            f"""CREATE {kind} TABLE {{matched}} (n integer, careful boolean, reason text, line_id integer,
                org_id integer, other_line_id integer, direction text, other_t text, started timestamp,
                local_date date, local_hour integer, duration integer, billsec integer, answered boolean,
                source_id text)"""
        )
        self.sql(
            f"""CREATE {kind} TABLE {{lines}} (line_id integer PRIMARY KEY, org_id integer, number text,
                masked text, country text, ckey text)"""
        )
        self.sql(
            f"""CREATE {kind} TABLE {{dests}} (other_t text, ckey text, number text, masked text, category text,
                country text, zone text, reason text)"""
        )
        self.sql(
            f"CREATE {kind} TABLE {{careful}} AS SELECT 0 AS n, {', '.join(COLUMNS)} FROM billing_usagerecord WITH NO DATA"
        )

    def _drop(self) -> None:
        self.sql("DROP TABLE " + ", ".join(self.t.values()))
        self.sql("SELECT set_config('work_mem', %s, true)", [self.work_mem])

    # --- 2. parse -------------------------------------------------------------------------------

    def _parse(self) -> None:
        layouts = [(layout, cond) for layout, cond in _layouts(self.reading)]
        widths = self.staged.widths | {0}
        picked = []
        for layout, cond in layouts:
            if layout.width is not None and layout.width not in widths:
                continue
            picked.append(cond)
            self._parse_layout(layout, cond)
        others = f"NOT ({' OR '.join(f'({c})' for c in picked)})" if picked else "true"
        known = sorted({layout.width for layout, _c in layouts if layout.width is not None}) or [-1]
        # Rows of no layout: rejected with the format's reason; rows held in Python, or of a layout
        # that only Python tells apart (a non-ASCII column 17), go row by row.
        self.sql(
            f"""INSERT INTO {{parsed}} (n, held, careful, reason, uuid_t, bleg_t)
                SELECT abs(n), n < 0, n < 0 OR w IN ({", ".join(map(str, known))}),
                       CASE WHEN n > 0 AND w NOT IN ({", ".join(map(str, known))}) THEN {_shape_reason(self.reading)} END,
                       {self._bleg_columns()}
                FROM (SELECT n, cardinality(a) AS w, a FROM {{stage}}, string_to_array(line, E'\\x1f') AS a) x
                WHERE {others}"""
        )

    def _bleg_columns(self) -> str:
        if not self.reading.b_legs_seen:
            return "NULL, NULL"
        return f"CASE WHEN w > 10 THEN btrim(a[11], {WS}) END, CASE WHEN w IN (15, 17, 20) THEN btrim(a[12], {WS}) END"

    def _parse_layout(self, layout: Layout, cond: str) -> None:
        c = layout.columns

        def f(name):
            return f"a[{c[name] + 1}]" if name in c else "''"

        def t(name):
            return f"btrim({f(name)}, {WS})" if name in c else "''"

        answer = "disposition" if layout.answered_by == "disposition" else "answer"
        used = ["src", "dst", "start", "duration", "billsec", answer, "uniqueid", "sequence", "channel", "dstchannel",
                "accountcode"]  # fmt: skip
        ascii_used = " AND ".join(f"octet_length({f(n)}) = length({f(n)})" for n in used if n in c)
        # Answered by the disposition, or (billsec > 0 checked with the number in _match) by an answer time.
        answered = "upper(ans) = 'ANSWERED'" if layout.answered_by == "disposition" else "ans <> ''"
        stable = (
            "left(encode(sha256(convert_to(array_to_string(ARRAY(SELECT btrim(v, "
            + WS
            + ") FROM unnest(a) v), E'\\x1f'), 'UTF8')), 'hex'), 32)"
        )
        legkey = "NULL"
        if self.reading.legs and layout.legs:
            legkey = f"CASE WHEN uid <> '' AND {t('sequence')} <> '' THEN uid END"
        chan = dstchan = "''"
        if self.by_channel:
            chan, dstchan = _channel_user(t("channel")), _channel_user(t("dstchannel"))
        # Each subquery ends in OFFSET 0 so that PostgreSQL computes its columns once per row instead of
        # substituting the expressions into every place that uses them: y trims, x checks, the outer casts.
        self.sql(
            f"""INSERT INTO {{parsed}} (n, held, careful, src, dst, src_t, dst_t, chan_user, dstchan_user, acct_t,
                    hour_key, tail, du_t, bi_t, ans_flag, source_id, uuid_t, bleg_t, legkey)
                SELECT abs(n), n < 0, NOT ok, src, dst, btrim(src, {WS}), btrim(dst, {WS}), chan, dstchan, acct,
                       CASE WHEN ok THEN substr(st, 1, 13) END, CASE WHEN ok THEN substr(st, 14) END,
                       CASE WHEN ok THEN du END, CASE WHEN ok THEN bi END, CASE WHEN ok THEN {answered} END,
                       CASE WHEN ok THEN left(coalesce(nullif(uid, ''), {stable}), 128) END,
                       {self._bleg_columns()}, {legkey}
                FROM (SELECT y.*, n > 0 AND octet_length(line) <= {MAX_FIELD}
                             AND (octet_length(line) = length(line) OR ({ascii_used}))
                             AND (uid <> '' OR octet_length(line) = length(line)) AS ok
                      FROM (SELECT n, w, a, line, {f("src")} AS src, {f("dst")} AS dst, {t("start")} AS st,
                                   {t("duration")} AS du, {t("billsec")} AS bi, {t(answer)} AS ans,
                                   {t("uniqueid")} AS uid, {chan} AS chan, {dstchan} AS dstchan,
                                   {t("accountcode") if self.by_account else "''"} AS acct
                            FROM (SELECT n, cardinality(a) AS w, a, line
                                  FROM {{stage}}, string_to_array(line, E'\\x1f') AS a) s
                            WHERE {cond} OFFSET 0) y
                      OFFSET 0) x"""
        )

    def _drop_b_legs(self) -> None:
        """FreeSWITCH legs="ab": a row whose uuid some row names as its bleg_uuid is that call's b-leg."""
        self.sql(
            """UPDATE {parsed} SET dropped = true
               WHERE uuid_t IN (SELECT bleg_t FROM {parsed} WHERE bleg_t <> '')"""
        )
        self.result.joined_legs += self.cursor.rowcount

    def _group_legs(self) -> None:
        """Runs of consecutive rows with one uniqueid (and a sequence) are legs of one call: row by row."""
        self.sql(
            """UPDATE {parsed} p SET grp = g.grp, careful = true
               FROM (SELECT n, grp, count(*) OVER (PARTITION BY grp) AS size
                     FROM (SELECT n, legkey, max(CASE WHEN starts THEN n END) OVER (ORDER BY n) AS grp
                           FROM (SELECT n, legkey, legkey IS NULL OR legkey IS DISTINCT FROM lag(legkey) OVER (ORDER BY n)
                                        AS starts
                                 FROM {parsed}) r) k
                     WHERE legkey IS NOT NULL) g
               WHERE g.n = p.n AND g.size > 1"""
        )

    # --- 3. once per distinct value -------------------------------------------------------------

    def _parties(self) -> None:
        """The line a number names (and the E.164 form it could be a DID under), once per party text;
        the source's identifiers, for the joins."""
        if self.has_identifiers:
            self.sql(
                """INSERT INTO {idents} SELECT kind, btrim(value), valid_from AT TIME ZONE 'UTC',
                       valid_to AT TIME ZONE 'UTC', line_id
                   FROM billing_lineidentifier WHERE organization_id = %s""",
                [self.reading.source.organization_id],
            )
        if "number" not in self.directory.methods:
            return
        texts = self.rows(
            """SELECT src_t FROM {parsed} WHERE NOT careful AND src_t <> ''
               UNION SELECT dst_t FROM {parsed} WHERE NOT careful AND dst_t <> ''"""
        )
        out = []
        for (text,) in texts:
            line = self.directory.by_number_text(text)
            did = self.directory.did_number(text) if line is None and self.has_identifiers else None
            if line is not None or did is not None:
                out.append(f"{_copy_field(text)}\t{line.id if line else NULL}\t{did or NULL}\n")
        if out:
            self.copy("parties", "x, line_id, did", "".join(out))

    def _hours(self) -> None:
        """Per wall-clock hour of the file: valid at all, and (per organization) its UTC start and local hour."""
        # The start and the two numbers are checked once per distinct text, not by a pattern per row:
        # a file of a million calls has a few hundred hours, at most 3,600 minute:second tails and a few
        # thousand durations.
        found = self.rows(
            """SELECT GROUPING(hour_key, tail, du_t, bi_t), hour_key, tail, du_t, bi_t FROM {parsed}
               WHERE NOT careful AND NOT dropped AND reason IS NULL
               GROUP BY GROUPING SETS ((hour_key), (tail), (du_t), (bi_t))"""
        )
        keys = [k for g, k, _t, _d, _b in found if g == 7 and k is not None]
        valid = {k: start for k in keys if (start := _hour_start(k)) is not None}
        if valid:
            self.copy("hkeys", "hour_key", "".join(f"{k}\n" for k in valid))
        tails = [m for g, _k, t, _d, _b in found if g == 11 and t is not None and (m := _TAIL.fullmatch(t))]
        if tails:
            self.copy("tails", "tail, mins, secs", "".join(f"{m[0]}\t{m[1]}\t{m[2]}\n" for m in tails))
        numbers = {v for g, _k, _t, d, b in found if g in (13, 14) and (v := d if g == 13 else b) is not None}
        numbers = [v for v in numbers if _WHOLE.fullmatch(v)]
        if numbers:
            self.copy("nums", "t, v", "".join(f"{v}\t{int(v)}\n" for v in numbers))
        if self.reading.source is not None:
            orgs = [self.reading.source.organization_id]
        else:
            orgs = [org for (org,) in self.rows(
                "SELECT DISTINCT l.organization_id FROM {parties} p JOIN billing_line l ON l.id = p.line_id")]  # fmt: skip
        out = []
        for org in orgs:
            for key, start in valid.items():
                mapped = _hour(self.reading.clock_tz or self.directory.tz[org], self.directory.tz[org], start)
                if mapped is not None:
                    out.append(f"{org}\t{key}\t{mapped[0].isoformat()}\t{mapped[1].isoformat()}\n")
        if out:
            self.copy("hours", "org_id, hour_key, utc_start, local_start", "".join(out))

    # --- 4. match -------------------------------------------------------------------------------

    def _line_of(self, party: str) -> tuple[str, list[str]]:
        """The line a party names (SQL expression) and the joins it needs; ``party`` is calling or called."""
        p = "c" if party == "calling" else "d"
        text = "q.src_t" if party == "calling" else "q.dst_t"
        channel = "q.chan_user" if party == "calling" else "q.dstchan_user"
        joins, found = [], []

        def ident(alias, kind, value):
            joins.append(
                f"LEFT JOIN {{idents}} {alias} ON {alias}.kind = '{kind}' AND {alias}.value = {value} "
                f"AND {alias}.valid_from <= q.started AND ({alias}.valid_to IS NULL OR q.started < {alias}.valid_to)"
            )
            return f"{alias}.line_id"

        for method in self.directory.methods:
            if method == "number":
                joins.append(f"LEFT JOIN {{parties}} {p}n ON {p}n.x = {text}")
                found.append(f"{p}n.line_id")
                if self.has_identifiers:
                    found.append(ident(f"{p}d", "did", f"{p}n.did"))
            elif method == "extension" and self.has_identifiers:
                found.append(ident(f"{p}e", "extension", f"nullif({text}, '')"))
            elif method == "channel" and self.by_channel:
                found.append(ident(f"{p}s", "sip_user", f"nullif({channel}, '')"))
                found.append(ident(f"{p}x", "extension", f"nullif({channel}, '')"))
            elif method == "account_code" and self.by_account and party == "calling":
                found.append(ident(f"{p}a", "account_code", "nullif(q.acct_t, '')"))
        return (f"coalesce({', '.join(found)})" if found else "NULL::integer"), joins

    def _match(self) -> None:
        calling, calling_joins = self._line_of("calling")
        called, called_joins = self._line_of("called")
        fixed_org = self.reading.source is not None
        by_disposition = "true" if _layouts(self.reading)[0][0].answered_by == "disposition" else "false"
        if fixed_org:  # the clock (and the organization) are known before the line: started first
            hours = "LEFT JOIN {hours} h ON h.org_id = %s AND h.hour_key = p.hour_key"
            hour_params = [self.reading.source.organization_id]
            started = "h.utc_start + make_interval(mins => tl.mins, secs => tl.secs)"
        else:  # no source: lines are matched by number alone (no time needed), then read in their zone
            hours, hour_params, started = "", [], "NULL::timestamp"
        inner = f"""
            SELECT p.n, p.src, p.dst, p.src_t, p.dst_t, p.chan_user, p.dstchan_user, p.acct_t, p.hour_key, tl.mins,
                   tl.secs, nd.v AS duration, nb.v AS billsec, p.ans_flag AND (nb.v > 0 OR {by_disposition}) AS answered,
                   p.source_id, k.hour_key IS NOT NULL AND tl.tail IS NOT NULL AND nd.t IS NOT NULL AND nb.t IS NOT NULL
                       AS valid_key, {started} AS started,
                   {"h.local_start" if fixed_org else "NULL::timestamp"} AS local_start,
                   CASE WHEN nb.v > nd.v THEN format('billsec (%%s) is longer than duration (%%s)', nb.v, nd.v)
                        WHEN nd.v > {MAX_DURATION} THEN format('duration of %%s s is absurd (more than 48 hours)', nd.v)
                   END AS dur_reason
            FROM {{parsed}} p LEFT JOIN {{hkeys}} k ON k.hour_key = p.hour_key
                 LEFT JOIN {{tails}} tl ON tl.tail = p.tail LEFT JOIN {{nums}} nd ON nd.t = p.du_t
                 LEFT JOIN {{nums}} nb ON nb.t = p.bi_t {hours}
            WHERE NOT p.careful AND NOT p.dropped AND p.reason IS NULL OFFSET 0"""
        matched = f"""
            SELECT q.*, {calling} AS calling_line, {called} AS called_line
            FROM ({inner}) q {" ".join(calling_joins + called_joins)} OFFSET 0"""
        if fixed_org:
            timed = f"SELECT r.*, r.started AS t_started, r.local_start AS t_local FROM ({matched}) r"
        else:
            timed = f"""SELECT r.*, h.utc_start + make_interval(mins => r.mins, secs => r.secs) AS t_started,
                               h.local_start AS t_local
                        FROM ({matched}) r
                        LEFT JOIN billing_line tl ON tl.id = coalesce(r.calling_line, r.called_line)
                        LEFT JOIN {{hours}} h ON h.org_id = tl.organization_id AND h.hour_key = r.hour_key"""
        unknown = _format_text("unknown line: neither src '\x01' nor dst '\x01' is a line " + self.reading.scope)
        self.sql(
            f"""INSERT INTO {{matched}}
                SELECT m.n, m.careful, CASE WHEN NOT m.careful THEN
                    CASE WHEN m.dur_reason IS NOT NULL THEN m.dur_reason
                         WHEN m.line_id IS NULL THEN format({unknown}, left(m.src, 32), left(m.dst, 32))
                         WHEN m.t_started > %s THEN format('start %%s UTC is in the future', to_char(m.t_started, 'YYYY-MM-DD HH24:MI'))
                         WHEN m.t_started < %s THEN format('start %%s is before 2000', to_char(m.t_started, 'YYYY-MM-DD'))
                         WHEN m.t_local::date < l.activated_on OR m.t_local::date >= l.deactivated_on
                             THEN format('line %%s was not active on %%s', l.number, to_char(m.t_local, 'YYYY-MM-DD'))
                    END END,
                    m.line_id, l.organization_id, m.other_line_id, m.direction, m.other_t, m.t_started,
                    m.t_local::date, extract(hour FROM m.t_local)::integer, m.duration, m.billsec, m.answered, m.source_id
                FROM (SELECT t.*, coalesce(t.calling_line, t.called_line) AS line_id,
                             CASE WHEN t.calling_line IS NOT NULL THEN t.called_line END AS other_line_id,
                             CASE WHEN t.calling_line IS NOT NULL THEN 'outbound' ELSE 'inbound' END AS direction,
                             CASE WHEN t.calling_line IS NOT NULL THEN t.dst_t ELSE t.src_t END AS other_t,
                             NOT t.valid_key OR (t.dur_reason IS NULL AND t.t_started IS NULL
                                 AND ({"true" if fixed_org else "false"} OR coalesce(t.calling_line, t.called_line) IS NOT NULL))
                                 AS careful
                      FROM ({timed}) t OFFSET 0) m
                LEFT JOIN billing_line l ON l.id = m.line_id""",
            [self.now, EARLIEST.replace(tzinfo=None), *hour_params],
        )

    # --- classification -------------------------------------------------------------------------

    def _classify(self) -> None:
        ids = self.rows(
            """SELECT line_id FROM {matched} WHERE line_id IS NOT NULL
               UNION SELECT other_line_id FROM {matched} WHERE other_line_id IS NOT NULL"""
        )
        dialplan, orgs = self.directory.dialplan, self.directory.orgs
        representative: dict[str, tuple[str, str]] = {}
        out = []
        for (line_id,) in ids:
            info = self.directory.by_id[line_id]
            country = orgs[info.organization_id].country
            ckey = f"{country}|{caller_area(info.number, country, dialplan)}"
            representative.setdefault(ckey, (info.number, country))
            out.append(f"{line_id}\t{info.organization_id}\t{info.number}\t{mask(info.number)}\t{country}\t{ckey}\n")
        if out:
            self.copy("lines", "line_id, org_id, number, masked, country, ckey", "".join(out))
        pairs = self.rows(
            """SELECT DISTINCT m.other_t, li.ckey FROM {matched} m JOIN {lines} li ON li.line_id = m.line_id
               LEFT JOIN {lines} lo ON lo.line_id = m.other_line_id
               WHERE NOT m.careful AND m.reason IS NULL AND m.other_t <> '' AND (lo.line_id IS NULL OR lo.org_id <> m.org_id)"""
        )
        out = []
        for other, ckey in pairs:
            number, country = representative[ckey]
            dest = classify(other, number, country, dialplan=dialplan)
            reason = too_long_reason(other) if too_long(dest) else None
            values = (other, ckey, dest.number, dest.masked, dest.category, dest.country, dest.zone)
            out.append("\t".join(map(_copy_field, values)) + f"\t{_copy_field(reason) if reason else NULL}\n")
        if out:
            self.copy("dests", "other_t, ckey, number, masked, category, country, zone, reason", "".join(out))
            self.sql(
                """UPDATE {matched} m SET reason = d.reason FROM {lines} li, {dests} d
                   WHERE d.reason IS NOT NULL AND li.line_id = m.line_id AND d.ckey = li.ckey AND d.other_t = m.other_t
                     AND NOT m.careful AND m.reason IS NULL
                     AND NOT EXISTS (SELECT 1 FROM {lines} lo WHERE lo.line_id = m.other_line_id AND lo.org_id = m.org_id)"""
            )

    # --- the rows SQL left to Python ------------------------------------------------------------

    def _careful_rows(self) -> None:
        found = self.rows(
            """SELECT c.n, c.grp, s.line FROM (
                   SELECT n, grp FROM {parsed} WHERE careful AND NOT dropped
                   UNION ALL SELECT n, NULL FROM {matched} WHERE careful) c
               LEFT JOIN {stage} s ON s.n = c.n ORDER BY c.n"""
        )
        self.result.careful_rows = len(found)
        held, groups, work = self.staged.held, {}, []
        for n, grp, line in found:
            fields = held[n] if line is None else line.split(staging.SEP)
            if grp is None:
                work.append((n, None, fields))
            elif grp not in groups:
                groups[grp] = legs.Group([(n, fields)])
                work.append((n, groups[grp], None))
            else:
                groups[grp].legs.append((n, fields))
        render = record_line_renderer()
        out = []
        for n, group, fields in work:  # in file order, as the row-by-row import would warn
            rec = self.careful.one(n, fields) if group is None else self.careful.group(group)
            if rec is not None:
                out.append(f"{n},{render(rec)}")
        if out:
            self.result.statements += 1
            self.cursor.copy_expert(
                f"COPY {self.t['careful']} (n, {', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL "
                "(destination, destination_masked, country, zone, source_id))",
                io.StringIO("".join(out)),
            )

    # --- 5. insert ------------------------------------------------------------------------------

    def _insert(self) -> WriteResult:
        careful_rejections = list(self.result.rejections)
        self._store_rejections()
        if careful_rejections:
            from billing.models import ImportRejection

            ImportRejection.objects.bulk_create(
                ImportRejection(batch_id=self.batch_id, line_number=r.line_number, reason=r.reason[:300], raw=r.raw)
                for r in careful_rejections
            )
        (candidates,) = self.rows(
            "SELECT (SELECT count(*) FROM {matched} WHERE NOT careful AND reason IS NULL) + (SELECT count(*) FROM {careful})"
        )[0]
        cols = ", ".join(COLUMNS)
        per_slice = self.rows(
            f"""WITH inserted AS (
                    INSERT INTO billing_usagerecord ({cols})
                    SELECT {cols} FROM (
                        SELECT m.n, m.org_id AS organization_id, m.line_id, a.person_id, a.location_id,
                               'voice' AS usage_type, m.started AT TIME ZONE 'UTC' AS started_at, m.local_date,
                               m.local_hour, m.duration AS duration_seconds,
                               CASE WHEN m.answered THEN m.billsec ELSE 0 END AS billable_seconds,
                               width_bucket(m.duration, ARRAY[{", ".join(map(str, DURATION_BAND_BOUNDS))}]) AS duration_band,
                               m.direction, m.answered,
                               CASE WHEN lo.org_id = m.org_id THEN lo.number WHEN m.other_t = '' THEN '' ELSE d.number END
                                   AS destination,
                               CASE WHEN lo.org_id = m.org_id THEN lo.masked WHEN m.other_t = '' THEN '' ELSE d.masked END
                                   AS destination_masked,
                               CASE WHEN lo.org_id = m.org_id THEN 'internal' WHEN m.other_t = '' THEN 'other' ELSE d.category END
                                   AS category,
                               CASE WHEN lo.org_id = m.org_id THEN li.country WHEN m.other_t = '' THEN '' ELSE d.country END
                                   AS country,
                               CASE WHEN lo.org_id = m.org_id OR m.other_t = '' THEN '' ELSE d.zone END AS zone,
                               0 AS data_bytes, %s AS source, m.source_id, %s AS import_batch_id
                        FROM {{matched}} m
                        JOIN {{lines}} li ON li.line_id = m.line_id
                        LEFT JOIN {{lines}} lo ON lo.line_id = m.other_line_id
                        LEFT JOIN {{dests}} d ON d.other_t = m.other_t AND d.ckey = li.ckey
                        LEFT JOIN billing_lineassignment a ON a.line_id = m.line_id
                             AND a.valid_from <= m.started AT TIME ZONE 'UTC'
                             AND (a.valid_to IS NULL OR m.started AT TIME ZONE 'UTC' < a.valid_to)
                        WHERE NOT m.careful AND m.reason IS NULL
                        UNION ALL SELECT n, {cols} FROM {{careful}}) r
                    ORDER BY started_at, n
                    ON CONFLICT (organization_id, source, source_id, started_at) DO NOTHING
                    RETURNING organization_id, local_date)
                SELECT organization_id, local_date, count(*) FROM inserted GROUP BY 1, 2""",
            [self.reading.format, self.batch_id],
        )
        slices = {(org, day) for org, day, _n in per_slice}
        inserted = sum(n for _org, _day, n in per_slice)
        if slices:
            rollups_rebuild(slices=slices)
            self.result.statements += 1
        return WriteResult(inserted=inserted, duplicates=candidates - inserted, slices=slices)

    def _store_rejections(self) -> None:
        """The rejections SQL decided, stored with their raw row (the fields joined by commas)."""
        stored = self.rows(
            """INSERT INTO billing_importrejection (batch_id, line_number, reason, raw)
               SELECT %s, r.n, left(r.reason, 300), left(replace(s.line, E'\\x1f', ','), 1000)
               FROM (SELECT n, reason FROM {parsed} WHERE reason IS NOT NULL AND NOT dropped
                     UNION ALL SELECT n, reason FROM {matched} WHERE reason IS NOT NULL AND NOT careful) r
               JOIN {stage} s ON s.n = r.n
               RETURNING line_number, reason, raw""",
            [self.batch_id],
        )
        shape = {n for (n,) in self.rows("SELECT n FROM {parsed} WHERE reason IS NOT NULL AND NOT dropped")}
        self.result.rejections.extend(Rejection(n, reason, raw, n in shape) for n, reason, raw in stored)


def _channel_user(channel: str) -> str:
    """formats' channel_user in SQL: ``sofia/<profile>/<user>@host``, else ``TECH/<user>-…``."""
    return (
        f"CASE WHEN lower({channel}) LIKE 'sofia/%%' THEN split_part(split_part({channel}, '/', 3), '@', 1) "
        f"ELSE coalesce(substring({channel} FROM '^[A-Za-z0-9_]+/([^/@;-]+)'), '') END"
    )


def _copy_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _hour_start(key: str) -> datetime | None:
    """The wall-clock hour ``YYYY-MM-DD HH`` (or ``T``), None when it is not a real date and hour."""
    if not _HOUR.fullmatch(key):
        return None
    try:
        start = datetime(int(key[0:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]))
    except ValueError:
        return None
    return start if start.year >= 1000 else None  # (strftime pads years below 1000 differently)


def _hour(reading_tz, org_tz, start: datetime) -> tuple[datetime, datetime] | None:
    """(UTC start, local start) of a wall-clock hour read in ``reading_tz``, for an organization in
    ``org_tz``; None when some time of that hour does not map that simply (a zone change in the hour,
    an offset not whole hours apart from the organization's): those rows go row by row."""
    try:
        end = start + timedelta(hours=1, microseconds=-1)
        offsets = {reading_tz.utcoffset(t.replace(fold=f)) for t in (start, end) for f in (0, 1)}
        if len(offsets) != 1:
            return None
        offset = offsets.pop()
        utc_start = (start - offset).replace(tzinfo=UTC)
        org_offset = utc_start.astimezone(org_tz).utcoffset()
        if (utc_start + timedelta(hours=1, microseconds=-1)).astimezone(org_tz).utcoffset() != org_offset:
            return None
        if (org_offset - offset) % timedelta(hours=1):
            return None
    except (OverflowError, ValueError):
        return None
    return start - offset, start + (org_offset - offset)
