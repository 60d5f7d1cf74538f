"""Random Asterisk files for a source matching extensions and channels: every row is loaded, joined
or rejected with its line number, and the fast path gives exactly what the careful path gives."""

from datetime import UTC, datetime

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.ingest import importer
from billing.ingest.importer import ImportFileError, usage_import
from billing.models import UsageSource
from tests.ingest.test_import_fast_path import snapshot

NOW = datetime(2026, 11, 15, tzinfo=UTC)
parties = st.sampled_from(
    ["201", "202", "203", "299", "0201234501", "+31201234502", "+4930901820", "0612345678", "", "s"]
)
channels = st.sampled_from(["PJSIP/201-00000001", "SIP/203-0000a1b2", "PJSIP/trunk-00000002", "", "Local/x@y-1;1"])
stamps = st.sampled_from(
    ["2026-10-05 09:00:00", "2026-10-25 02:30:00", "2026-03-29 02:30:00", "2026/10/06 10:00:00", "x"]
)
seconds = st.sampled_from(["0", "5", "65", "-1", "00:01:05", "12.5", "INF", ""])
ids = st.sampled_from(["1791190800.1", "1791190800.2", "pbx-1791190800.3", "", "abc"])


@st.composite
def row(draw):
    fields = ["", draw(parties), draw(parties), "from-internal", "", draw(channels), draw(channels), "Dial", "",
              draw(stamps), "", "", draw(seconds), draw(seconds), draw(st.sampled_from(["ANSWERED", "NO ANSWER"])),
              "DOCUMENTATION"]  # fmt: skip
    extra = draw(st.sampled_from([[], [draw(ids)], [draw(ids), ""], ["", "", draw(ids), draw(st.sampled_from(["1", "2"]))],
                                  [draw(ids), "", "", draw(ids), draw(st.sampled_from(["1", "2", "3"]))]]))  # fmt: skip
    return fields + extra


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(row(), min_size=1, max_size=10), match_by=st.sampled_from(["number,extension,channel", "extension"])
)
def test_random_files_fast_equals_careful_and_every_row_is_accounted_for(hosted, tmp_path_factory, monkeypatch, rows,
                                                                         match_by):  # fmt: skip
    path = tmp_path_factory.mktemp("fuzz") / "Master.csv"
    path.write_text("".join(",".join(f'"{v}"' for v in r) + "\n" for r in rows))
    source, _ = UsageSource.objects.get_or_create(
        slug=f"fuzz-{len(match_by)}",
        defaults=dict(
            organization=hosted, name=match_by, format="asterisk", match_by=match_by, clock="Europe/Amsterdam"
        ),
    )  # the examples share the test's database: one source per match order
    out = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(importer, "FAST_PATH", fast)
            with transaction.atomic():
                try:
                    result = usage_import(path=path, source=source, now=NOW)
                except ImportFileError as exc:
                    out.append(("refused", str(exc)))
                else:
                    assert result.loaded + result.duplicates + result.rejected + result.joined_legs == result.rows
                    assert all(1 <= r.line_number <= len(rows) and r.reason for r in result.rejections)
                    out.append(snapshot(hosted, result))
                transaction.set_rollback(True)
    assert out[0] == out[1]
