"""One day of a hosted PBX's Master.csv, written byte for byte the way Asterisk's cdr_csv writes it with
usegmtime, loguniqueid, loguserfield and newcdrcolumns on (21 columns): strings quoted with inner quotes
doubled, numbers bare, times in UTC, uniqueid = the start's epoch, one row per leg of a ring group, the
outside-line prefix 0 in front of every external number, a Latin-1 caller name in a UTF-8 file. Written
here from cdr_csv.c's record layout, independent of the importer's own fixture helpers."""

from datetime import UTC, date, datetime, timedelta

import pytest

from billing.ingest.importer import usage_import
from billing.models import UsageRecord

_seq = iter(range(100, 10_000))


def _q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _row(src, dst, clid, chan, dchan, data, start, ring, billsec, disposition, *, uniqueid=None, sequence=None):
    end = start + timedelta(seconds=ring + billsec)
    answer = (start + timedelta(seconds=ring)).strftime("%Y-%m-%d %H:%M:%S") if disposition == "ANSWERED" else ""
    uniqueid = uniqueid or f"{int(start.timestamp())}.{next(_seq)}"
    fields = [_q(v) for v in ("", src, dst, "from-internal", clid, chan, dchan, "Dial", data)]
    fields += [_q(start.strftime("%Y-%m-%d %H:%M:%S")), _q(answer), _q(end.strftime("%Y-%m-%d %H:%M:%S"))]
    fields += [str(ring + billsec), str(billsec), _q(disposition), _q("DOCUMENTATION"), _q(uniqueid), _q("")]
    fields += [_q(""), _q(uniqueid), str(sequence if sequence is not None else next(_seq))]
    return ",".join(fields).encode("utf-8", "surrogateescape") + b"\n"


def _master_csv() -> bytes:
    t = datetime
    ring = t(2026, 11, 5, 9, 0, tzinfo=UTC)
    ring_id = f"{int(ring.timestamp())}.201"
    return b"".join(
        [
            _row("201", "00612345678", '"Anna" <201>', "PJSIP/201-00000001", "PJSIP/kpn-00000002",
                 "PJSIP/0612345678@kpn,60", t(2026, 11, 3, 8, 15, 2, tzinfo=UTC), 7, 134, "ANSWERED"),
            _row("202", "000442079460123", '"Bram" <202>', "PJSIP/202-00000003", "PJSIP/kpn-00000004",
                 "PJSIP/00442079460123@kpn,60", t(2026, 11, 3, 23, 40, tzinfo=UTC), 12, 600, "ANSWERED"),
            _row("203", "00206241111", '"Carla" <203>', "PJSIP/203-00000005", "PJSIP/kpn-00000006",
                 "PJSIP/0206241111@kpn,60", t(2026, 11, 4, 13, 0, tzinfo=UTC), 5, 61, "ANSWERED"),
            _row("201", "202", '"Anna" <201>', "PJSIP/201-00000007", "PJSIP/202-00000008",
                 "PJSIP/202,20", t(2026, 11, 4, 14, 0, tzinfo=UTC), 2, 6, "ANSWERED"),
            # A caller rings the ring group on Anna's DID: 201 does not answer, 202 (Bram) does.
            _row("0612345678", "31201234501", '"" <0612345678>', "PJSIP/kpn-00000009", "PJSIP/201-0000000a",
                 "PJSIP/201&PJSIP/202,30", ring, 20, 0, "NO ANSWER", uniqueid=ring_id, sequence=11),
            _row("0612345678", "31201234501", '"" <0612345678>', "PJSIP/kpn-00000009", "PJSIP/202-0000000b",
                 "PJSIP/201&PJSIP/202,30", ring, 8, 95, "ANSWERED", uniqueid=ring_id, sequence=12),
            _row("203", "00031687654321", '"Carla" <203>', "PJSIP/203-0000000c", "PJSIP/kpn-0000000d",
                 "PJSIP/0031687654321@kpn,60", t(2026, 11, 6, 10, 0, tzinfo=UTC), 25, 0, "NO ANSWER"),
            _row("201", "0031205551234", '"Jos\udce9 Garc\udceda" <201>', "PJSIP/201-00000010", "PJSIP/kpn-00000011",
                 "PJSIP/0031205551234@kpn,60", t(2026, 11, 9, 7, 30, tzinfo=UTC), 4, 45, "ANSWERED"),
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("match_by", "ring_group_person"),
    [("channel,number,extension", "Bram"), ("number,extension,channel", "Anna")],
)
def test_a_day_of_a_hosted_pbx_lands_on_the_right_local_day_person_and_category(
    hosted, tmp_path, match_by, ring_group_person
):
    hosted.source(slug="zuid", clock="UTC", match_by=match_by, outside_prefix="0", extension_lengths="3")
    path = tmp_path / "Master.csv"
    path.write_bytes(_master_csv())
    result = usage_import(path=path, source="zuid", now=datetime(2026, 11, 15, tzinfo=UTC))
    assert (result.rows, result.loaded, result.rejected) == (8, 7, 0)
    assert any("legs" in w for w in result.warnings) and any("encoding" in w for w in result.warnings)
    got = [
        (r.local_date, r.local_hour, r.person.name, r.direction, r.answered, r.duration_seconds, r.billable_seconds,
         r.category, r.destination, r.zone)
        for r in UsageRecord.objects.filter(organization=hosted).select_related("person").order_by("started_at")
    ]  # fmt: skip
    assert got == [
        (date(2026, 11, 3), 9, "Anna", "outbound", True, 141, 134, "mobile", "+31612345678", ""),
        (date(2026, 11, 4), 0, "Bram", "outbound", True, 612, 600, "international", "+442079460123", "EU"),
        (date(2026, 11, 4), 14, "Carla", "outbound", True, 66, 61, "local", "+31206241111", ""),
        (date(2026, 11, 4), 15, "Anna", "outbound", True, 8, 6, "internal", "+31201234502", ""),
        # Channel first: the call is on the extension that answered; number first: on the DID's line.
        (date(2026, 11, 5), 10, ring_group_person, "inbound", True, 103, 95, "mobile", "+31612345678", ""),
        (date(2026, 11, 6), 11, "Carla", "outbound", False, 25, 0, "mobile", "+31687654321", ""),
        (date(2026, 11, 9), 8, "Anna", "outbound", True, 49, 45, "local", "+31205551234", ""),
    ]
    again = usage_import(path=path, source="zuid", now=datetime(2026, 11, 15, tzinfo=UTC))
    assert (again.loaded, again.duplicates) == (0, 7)
