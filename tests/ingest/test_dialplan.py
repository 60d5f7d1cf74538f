"""Dialled digits in an imported file, read in the organization's country (issue 14: the Dutch customer
whose PBX wrote E.164 digits without "+" got 0 of 400 such calls as international)."""

from datetime import UTC, datetime

import pytest

from billing.ingest.importer import usage_import
from billing.models import UsageRecord

ROW = (
    '"","+31201230000","{dst}","from-internal","""Desk"" <201>","PJSIP/201-{n:08x}","PJSIP/trunk-{n:08x}",'
    '"Dial","PJSIP/{dst}@trunk,60","2026-10-05 10:{n:02d}:00","2026-10-05 10:{n:02d}:05",'
    '"2026-10-05 10:{n:02d}:45",45,40,"ANSWERED","DOCUMENTATION","1759651200.{n}",""\n'
)

# dialled -> (destination stored, category, country, zone)
EXPECTED = {
    "12125550123": ("+12125550123", "international", "US", "NA"),
    "4930901820": ("+4930901820", "international", "DE", "EU"),
    "33142685300": ("+33142685300", "international", "FR", "EU"),
    "0031201234567": ("+31201234567", "local", "NL", ""),
    "0201234567": ("+31201234567", "local", "NL", ""),
    "1234567": ("+31201234567", "local", "NL", ""),
    "0701234567": ("+31701234567", "national", "NL", ""),
    "0612345678": ("+31612345678", "mobile", "NL", ""),
    "08000123456": ("+318000123456", "toll_free", "NL", ""),
    "0097231234567": ("+97231234567", "international", "IL", "ROW"),
    "000972312345678": ("000972312345678", "other", "", ""),
    "112": ("112", "toll_free", "NL", ""),
    "202": ("202", "internal", "NL", ""),
}


@pytest.fixture
def amsterdam(make):
    org = make.organization(name="Kantoor Amsterdam", country="NL", time_zone="Europe/Amsterdam")
    office = make.location(org, name="Amsterdam")
    make.line(org, "+31201230000", person=make.person(org, name="Daan"), location=office,
              since=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
    return org


def test_dialled_forms_on_a_dutch_line_are_stored_by_what_they_are(amsterdam, tmp_path):
    path = tmp_path / "Master.csv"
    path.write_text("".join(ROW.format(dst=dst, n=n) for n, dst in enumerate(EXPECTED)), encoding="utf-8")
    result = usage_import(path=path, format="asterisk")
    assert (result.rows, result.loaded, result.rejected) == (len(EXPECTED), len(EXPECTED), 0)
    stored = {
        int(r.source_id.split(".")[1]): (r.destination, r.category, r.country, r.zone)
        for r in UsageRecord.objects.filter(organization=amsterdam)
    }
    assert [stored[n] for n in range(len(EXPECTED))] == list(EXPECTED.values())
    # The number people see is masked: E.164 numbers keep country and area code, extensions one digit.
    masked = dict(UsageRecord.objects.filter(organization=amsterdam).values_list("destination", "destination_masked"))
    assert masked["+12125550123"] == "+1 212 ••••• 23" and masked["202"] == "••2"
