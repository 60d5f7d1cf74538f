"""Dialled digits read by the source's dial plan and the organization's country.

One table per country: what a PBX user (or the PBX's CDR) writes -> the number stored (E.164, or the
digits for extensions, service numbers and garbage), its category and its international zone. Every
number's type was checked with libphonenumber itself; fictional ranges are used where the country has
them (US 555-01xx, Ofcom's 020 7946 0xxx / 0113 496 0xxx / 07700 900xxx, ARCEP's 01 99 00 xx xx).
"""

import pytest

from billing.dialplan import DialPlan, default_dialplan
from billing.numbers import (
    Destination,
    classify,
    internal_if_own_line,
    is_own_line,
    mask,
    normalize,
)


def row(dialled, number, category, zone="", why=""):
    return pytest.param(dialled, number, category, zone, id=why or dialled)


def check(plan, own_line, dialled, number, category, zone):
    destination = classify(dialled, own_line, plan.country, plan)
    assert (destination.number, destination.category, destination.zone) == (number, category, zone)
    assert destination.masked == mask(number)


# A New York office: "9" for an outside line, 3- and 4-digit extensions.
US = DialPlan("US", outside_prefix="9", extension_lengths=(3, 4))
US_LINE = "+12125550100"
US_ROWS = [
    row("+1 212 555 0123", "+12125550123", "local", why="E.164 with +, own area"),
    row("tel:+1-212-555-0123", "+12125550123", "local", why="tel URI"),
    row("(212) 555-0123", "+12125550123", "local", why="10-digit national, own area"),
    row("1-212-555-0123", "+12125550123", "local", why="national prefix 1 + 10 digits"),
    row("1 310 555 0188", "+13105550188", "national", why="national prefix, another area"),
    row("3105550188", "+13105550188", "national", why="10-digit national, another area"),
    row("555-0123", "+12125550123", "local", why="7-digit local number from a 212 line"),
    row("1 917 555 0123", "+19175550123", "national", why="NANP numbers do not tell mobiles apart"),
    row("4165550123", "+14165550123", "international", "NA", why="Toronto, 10 digits"),
    row("011 44 20 7946 0123", "+442079460123", "international", "EU", why="international prefix 011"),
    row("011 972 3 123 4567", "+97231234567", "international", "ROW", why="011 to Israel"),
    row("4930901820", "+4930901820", "international", "EU", why="E.164 digits without +"),
    row("442079460123", "+442079460123", "international", "EU", why="E.164 digits without +, London"),
    row("0031201234567", "0031201234567", "other", why="00 is not international from the US"),
    row("9 1 212 555 0123", "+12125550123", "local", why="outside 9 + national"),
    row("9 310 555 0188", "+13105550188", "national", why="outside 9 + 10 digits"),
    row("9 555 0123", "+12125550123", "local", why="outside 9 + local"),
    row("9 011 44 20 7946 0123", "+442079460123", "international", "EU", why="outside 9 + international"),
    row("9 4930901820", "+4930901820", "international", "EU", why="outside 9 + E.164 without +"),
    row("1 800 555 0100", "+18005550100", "toll_free", why="toll-free"),
    row("9 1 800 555 0100", "+18005550100", "toll_free", why="outside 9 + toll-free"),
    row("1 900 555 0100", "+19005550100", "premium", why="premium"),
    row("911", "911", "toll_free", why="emergency"),
    row("9 911", "911", "toll_free", why="outside 9 + emergency"),
    row("411", "411", "internal", why="3-digit extensions declared: 411 is one"),
    row("201", "201", "internal", why="3-digit extension"),
    row("1001", "1001", "internal", why="4-digit extension"),
    row('"Front desk" <sip:1001@pbx.example.com>', "1001", "internal", why="SIP URI with a display name"),
    row("12345", "12345", "other", why="5 digits: no extension, no local number"),
    row("s", "", "other", why="Asterisk's s extension"),
    row("*97", "*97", "other", why="feature code"),
    row("+1 212 555", "+1212555", "other", why="too short after +"),
]


@pytest.mark.parametrize("dialled,number,category,zone", US_ROWS)
def test_us_dial_plan(dialled, number, category, zone):
    check(US, US_LINE, dialled, number, category, zone)


# A Berlin office: "0" for an outside line (so 0 + 030… is outside + national, 0 + 00… outside + international).
DE = DialPlan("DE", outside_prefix="0", extension_lengths=(3, 4))
DE_LINE = "+493012345601"
DE_ROWS = [
    row("+49 30 901820", "+4930901820", "local", why="E.164 with +, own area"),
    row("+49 (0)30 901820", "+4930901820", "local", why="E.164 with the (0) written in"),
    row("sip:+4989123456@trunk.example", "+4989123456", "national", why="SIP URI, Munich"),
    row("0 030 901820", "+4930901820", "local", why="outside 0 + national"),
    row("0 089 123456", "+4989123456", "national", why="outside 0 + national, Munich"),
    row("0 030 23125 123", "+493023125123", "local", why="outside 0 + national, drama range"),
    row("0 901820", "+4930901820", "local", why="outside 0 + 6-digit local"),
    row("901820", "+4930901820", "local", why="6-digit local number with 3-4 digit extensions"),
    row("030 901820", "+493030901820", "local", why="outside 0 + 8-digit local 30901820"),
    row("000 33 1 42 68 53 00", "+33142685300", "international", "EU", why="outside 0 + international"),
    row("000 972 3 123 4567", "+97231234567", "international", "ROW", why="outside 0 + 00972, never +0972"),
    row("000 49 30 901820", "+4930901820", "local", why="outside 0 + international to Germany"),
    row("4930901820", "+4930901820", "local", why="E.164 digits without +, own area"),
    row("33142685300", "+33142685300", "international", "EU", why="E.164 digits without +, Paris"),
    row("12125550123", "+12125550123", "international", "NA", why="E.164 digits without +, New York"),
    row("0 4930901820", "+4930901820", "local", why="outside 0 + E.164 without +"),
    row("0 0170 1234567", "+491701234567", "mobile", why="outside 0 + mobile"),
    row("0170 1234567", "+491701234567", "mobile", why="mobile in national format"),
    row("0 0800 1234567", "+498001234567", "toll_free", why="outside 0 + toll-free"),
    row("0 0900 1 123456", "+499001123456", "premium", why="outside 0 + premium"),
    row("0 01805 123456", "+491805123456", "premium", why="shared cost counts as premium"),
    row("112", "112", "toll_free", why="emergency 112"),
    row("0 112", "112", "toll_free", why="outside 0 + emergency"),
    row("110", "110", "toll_free", why="police: emergency before the 3-digit extensions"),
    row("116116", "116116", "toll_free", why="harmonised 116 service, free"),
    row("11833", "11833", "other", why="directory enquiries"),
    row("201", "201", "internal", why="3-digit extension"),
    row("2001", "2001", "internal", why="4-digit extension"),
    row("0033142685300", "+4933142685300", "national", why="outside 0 comes first: 0 + 033142685300"),
    row("abc", "", "other", why="letters"),
    row("0", "0", "other", why="only the outside prefix"),
    row("０３０ ９０１８２０", "", "other", why="full-width digits are not what a PBX dials"),
]


@pytest.mark.parametrize("dialled,number,category,zone", DE_ROWS)
def test_de_dial_plan(dialled, number, category, zone):
    check(DE, DE_LINE, dialled, number, category, zone)


# A London office: "9" for an outside line.
GB = DialPlan("GB", outside_prefix="9", extension_lengths=(3, 4))
GB_LINE = "+442079460000"
GB_ROWS = [
    row("+44 20 7946 0123", "+442079460123", "local", why="E.164 with +, drama range"),
    row("020 7946 0123", "+442079460123", "local", why="national format"),
    row("7946 0123", "+442079460123", "local", why="8-digit local number"),
    row("442079460123", "+442079460123", "local", why="E.164 digits without +"),
    row("0044 20 7946 0123", "+442079460123", "local", why="international prefix to the UK"),
    row("0113 496 0123", "+441134960123", "national", why="Leeds drama range"),
    row("9 0113 496 0123", "+441134960123", "national", why="outside 9 + national"),
    row("9 7946 0123", "+442079460123", "local", why="outside 9 + local"),
    row("9 020 7946 0123", "+442079460123", "local", why="outside 9 + national, own area"),
    row("9 00 1 212 555 0123", "+12125550123", "international", "NA", why="outside 9 + international"),
    row("00 1 212 555 0123", "+12125550123", "international", "NA", why="international prefix 00"),
    row("12125550123", "+12125550123", "international", "NA", why="E.164 digits without +"),
    row("9 4930901820", "+4930901820", "international", "EU", why="outside 9 + E.164 without +"),
    row("07400 123456", "+447400123456", "mobile", why="mobile"),
    row("9 07400 123456", "+447400123456", "mobile", why="outside 9 + mobile"),
    row("07700 900123", "+447700900123", "national", why="Ofcom drama mobile: not valid for libphonenumber"),
    row("0808 157 0000", "+448081570000", "toll_free", why="freephone"),
    row("0909 879 0123", "+449098790123", "premium", why="premium 09"),
    row("0871 234 5678", "+448712345678", "premium", why="premium 087"),
    row("999", "999", "toll_free", why="emergency 999"),
    row("9 999", "999", "toll_free", why="outside 9 + emergency"),
    row("112", "112", "toll_free", why="emergency 112"),
    row("116123", "116123", "toll_free", why="Samaritans, free"),
    row("118118", "118118", "other", why="directory enquiries"),
    row("101", "101", "internal", why="3-digit extensions declared: 101 is one"),
    row("4001", "4001", "internal", why="4-digit extension"),
    row("946012", "946012", "other", why="6 digits: no London number"),
    row("+44 20 7946", "+44207946", "other", why="too short after +"),
]


@pytest.mark.parametrize("dialled,number,category,zone", GB_ROWS)
def test_gb_dial_plan(dialled, number, category, zone):
    check(GB, GB_LINE, dialled, number, category, zone)


# An Amsterdam office: "0" for an outside line; the Dutch customer dialled E.164 digits without +.
NL = DialPlan("NL", outside_prefix="0", extension_lengths=(3, 4))
NL_LINE = "+31201230000"
NL_ROWS = [
    row("+31 20 123 4567", "+31201234567", "local", why="E.164 with +"),
    row("020-1234567", "+31201234567", "local", why="national format"),
    row("0 020 1234567", "+31201234567", "local", why="outside 0 + national"),
    row("123 4567", "+31201234567", "local", why="7-digit local number"),
    row("0 123 4567", "+31201234567", "local", why="outside 0 + local"),
    row("31201234567", "+31201234567", "local", why="E.164 digits without +, own country"),
    row("0 0031 20 123 4567", "+31201234567", "local", why="outside 0 + international to NL"),
    row("12125550123", "+12125550123", "international", "NA", why="E.164 digits without +, not +3112…"),
    row("4930901820", "+4930901820", "international", "EU", why="E.164 digits without +, Berlin"),
    row("33142685300", "+33142685300", "international", "EU", why="E.164 digits without +, Paris"),
    row("0 12125550123", "+12125550123", "international", "NA", why="outside 0 + E.164 without +"),
    row("0 0049 30 901820", "+4930901820", "international", "EU", why="outside 0 + international"),
    row("0 00 1 212 555 0123", "+12125550123", "international", "NA", why="outside 0 + 00 1"),
    row("0070 1234567", "+31701234567", "national", why="national, The Hague, no outside prefix"),
    row("06 12345678", "+31612345678", "mobile", why="mobile"),
    row("0 06 12345678", "+31612345678", "mobile", why="outside 0 + mobile"),
    row("0800 0123456", "+318000123456", "toll_free", why="toll-free"),
    row("0 0800 0123456", "+318000123456", "toll_free", why="outside 0 + toll-free"),
    row("0900 1234567", "+319001234567", "premium", why="premium"),
    row("112", "112", "toll_free", why="emergency"),
    row("0 112", "112", "toll_free", why="outside 0 + emergency"),
    row("116123", "116123", "toll_free", why="harmonised 116 service"),
    row("201", "201", "internal", why="3-digit extension"),
    row("2001", "2001", "internal", why="4-digit extension"),
    row("123456", "123456", "other", why="6 digits: no Amsterdam number"),
    row("0123456", "0123456", "other", why="too short for a national number"),
    row("abc", "", "other", why="letters"),
]


@pytest.mark.parametrize("dialled,number,category,zone", NL_ROWS)
def test_nl_dial_plan(dialled, number, category, zone):
    check(NL, NL_LINE, dialled, number, category, zone)


# A Paris office: "0" for an outside line; France's numbering is closed (no local dialling).
FR = DialPlan("FR", outside_prefix="0", extension_lengths=(3, 4))
FR_LINE = "+33142680000"
FR_ROWS = [
    row("+33 1 42 68 53 00", "+33142685300", "local", why="E.164 with +"),
    row("01 42 68 53 00", "+33142685300", "local", why="national format"),
    row("0 01 42 68 53 00", "+33142685300", "local", why="outside 0 + national"),
    row("33142685300", "+33142685300", "local", why="E.164 digits without +"),
    row("00 33 1 42 68 53 00", "+33142685300", "local", why="international prefix to France"),
    row("000 33 1 42 68 53 00", "+33142685300", "local", why="outside 0 + international to France"),
    row("42 68 53 00", "42685300", "other", why="closed numbering: no local numbers"),
    row("01 99 00 12 34", "+33199001234", "local", why="ARCEP fictional range"),
    row("04 72 10 30 30", "+33472103030", "national", why="Lyon"),
    row("0 04 72 10 30 30", "+33472103030", "national", why="outside 0 + national, Lyon"),
    row("06 12 34 56 78", "+33612345678", "mobile", why="mobile"),
    row("0 06 12 34 56 78", "+33612345678", "mobile", why="outside 0 + mobile"),
    row("0800 12 34 56", "+33800123456", "toll_free", why="numéro vert"),
    row("0899 12 34 56", "+33899123456", "premium", why="premium 089"),
    row("15", "15", "toll_free", why="SAMU"),
    row("17", "17", "toll_free", why="police"),
    row("18", "18", "toll_free", why="pompiers"),
    row("0 112", "112", "toll_free", why="outside 0 + emergency"),
    row("116000", "116000", "toll_free", why="harmonised 116 service"),
    row("118712", "118712", "premium", why="directory enquiries are premium in France"),
    row("3949", "3949", "internal", why="4-digit extensions declared: 3949 is one"),
    row("201", "201", "internal", why="3-digit extension"),
    row("12125550123", "+12125550123", "international", "NA", why="E.164 digits without +"),
    row("0 00 1 212 555 0123", "+12125550123", "international", "NA", why="outside 0 + international"),
    row("0 4930901820", "+4930901820", "international", "EU", why="outside 0 + E.164 without +"),
    row("0 44 20 7946 0123", "+442079460123", "international", "EU", why="outside 0 + E.164 without +, London"),
    row("123456", "123456", "other", why="6 digits"),
]


@pytest.mark.parametrize("dialled,number,category,zone", FR_ROWS)
def test_fr_dial_plan(dialled, number, category, zone):
    check(FR, FR_LINE, dialled, number, category, zone)


def test_each_country_table_has_at_least_fifteen_rows():
    assert min(map(len, (US_ROWS, DE_ROWS, GB_ROWS, NL_ROWS, FR_ROWS))) >= 15


@pytest.mark.parametrize(
    "dialled,own_line,region,number,category",
    [
        ("202", "+493012345601", "DE", "202", "internal"),  # up to INTERNAL_MAX_DIGITS digits: an extension
        ("901820", "+493012345601", "DE", "901820", "internal"),
        ("030 901820", "+493012345601", "DE", "+4930901820", "local"),
        ("4930901820", "+31201230000", "NL", "+4930901820", "international"),
        ("12125550123", "+31201230000", "NL", "+12125550123", "international"),
        ("000972312345678", "+493012345601", "DE", "000972312345678", "other"),  # not +0972…
        ("00 972 3 123 4567", "+493012345601", "DE", "+97231234567", "international"),
        ("0031201234567", "+12125550100", "US", "0031201234567", "other"),
        ("011 31 20 123 4567", "+12125550100", "US", "+31201234567", "international"),
        # Without the outside prefix 9 declared, 9 1 212 555 0123 is a valid Indian number: declare it.
        ("9 1 212 555 0123", "+12125550100", "US", "+912125550123", "international"),
        ("112", "+493012345601", "DE", "112", "toll_free"),
        ("+4917612345678", "+493012345601", "DE", "+4917612345678", "mobile"),
    ],
)
def test_without_a_dial_plan_the_organizations_country_is_used(dialled, own_line, region, number, category):
    destination = classify(dialled, own_line, region)
    assert (destination.number, destination.category) == (number, category)
    assert destination == classify(dialled, own_line, region, default_dialplan(region))


def test_declared_prefixes_replace_the_countrys():
    # A German PBX whose trunk wants 000 before international numbers and that has no national prefix of
    # its own (a made-up plan: the point is that the declaration is read, not libphonenumber's default).
    plan = DialPlan("DE", international_prefix="000", national_prefix="", extension_lengths=(3,))
    assert classify("000 33 1 42 68 53 00", "+493012345601", "DE", plan).number == "+33142685300"
    assert classify("00 33 1 42 68 53 00", "+493012345601", "DE", plan).category == "other"
    assert classify("30 901820", "+493012345601", "DE", plan).number == "+4930901820"  # national, no prefix


def test_a_dial_plan_without_a_country_reads_in_the_organizations():
    plan = DialPlan("", outside_prefix="9", extension_lengths=(3, 4))
    assert classify("9 011 44 20 7946 0123", US_LINE, "US", plan).number == "+442079460123"
    assert normalize("9 1 212 555 0123", "US", plan) == "+12125550123"


def test_inbound_caller_ids_are_read_without_the_outside_prefix():
    # Outbound, 0 + 30901820 is the outside line + a Berlin local number; a caller id 030901820 is national.
    assert classify("030901820", DE_LINE, "DE", DE).number == "+493030901820"
    assert classify("030901820", DE_LINE, "DE", DE.for_inbound()).number == "+4930901820"
    assert DE.for_inbound() == DialPlan("DE", extension_lengths=(3, 4))
    assert DialPlan("DE").for_inbound() == DialPlan("DE")


@pytest.mark.parametrize(
    "raw,region,plan,expected",
    [
        ("+49 30 12345 601", "DE", None, "+493012345601"),
        ("030 12345 601", "DE", None, "+493012345601"),  # a DID in national format
        ("4930901820", "NL", None, "+4930901820"),
        ("12125550123", "NL", NL, "+12125550123"),
        ("0 0031 20 123 4567", "NL", NL, "+31201234567"),
        ("(212) 555-0123", "US", None, "+12125550123"),
        ("9 011 44 20 7946 0123", "US", US, "+442079460123"),
        ('"Anna" <sip:+493012345601@pbx>', "DE", None, "+493012345601"),
        ("555-0123", "US", US, None),  # a local number needs the caller's line: classify reads it
        ("201", "DE", None, None),  # extension
        ("112", "DE", None, None),  # service number
        ("000972312345678", "DE", None, None),
        ("0031201234567", "US", None, None),
        ("anonymous", "DE", None, None),
        ("", "DE", None, None),
    ],
)
def test_normalize(raw, region, plan, expected):
    assert normalize(raw, region, plan) == expected


def test_reading_is_cached_per_number_and_dial_plan():
    first = classify("0 030 901820", DE_LINE, "DE", DialPlan("DE", outside_prefix="0", extension_lengths=(3, 4)))
    again = classify(
        "0 030 901820", "+493012345602", "DE", DialPlan("DE", outside_prefix="0", extension_lengths=(3, 4))
    )
    assert first is again  # equal plans hash alike; two lines of the same area share the reading
    assert normalize("0 030 901820", "DE", DE) is normalize("0 030 901820", "DE", DE)
    other_area = classify("0 030 901820", "+4989123400", "DE", DE)
    assert (other_area.number, other_area.category) == ("+4930901820", "national")


def test_calls_to_the_organizations_own_lines_are_internal():
    own = {"+493012345601", "+493012345602"}
    to_colleague = classify("0 030 12345 602", DE_LINE, "DE", DE)
    assert to_colleague.category == "local" and is_own_line(to_colleague, own)
    internal = internal_if_own_line(to_colleague, own)
    assert (internal.number, internal.category, internal.zone) == ("+493012345602", "internal", "")
    abroad = classify("+31201234567", DE_LINE, "DE", DE)
    assert abroad.category == "international" and internal_if_own_line(abroad, {"+31201234567"}).zone == ""
    outside = classify("0 030 901820", DE_LINE, "DE", DE)
    assert not is_own_line(outside, own) and internal_if_own_line(outside, own) is outside
    assert not is_own_line(Destination("201", "internal", "DE", "", "••1"), {"201"})  # extensions are not lines


@pytest.mark.parametrize(
    "dialled,number",
    [
        ("8 030 901820", "+4930901820"),  # the PBX: 8 for an outside line
        ("8 00 33 1 42 68 53 00", "+33142685300"),
        ("8 0170 1234567", "+491701234567"),
        ("8 112", "112"),
        ("812", "812"),  # a 3-digit extension that starts with the outside digit stays an extension
        ("sips:+4930901820@sbc.example;transport=tls", "+4930901820"),
        ("tel:+49-30-901820;ext=12", "+4930901820"),
        ("<sip:030901820@pbx>", "+4930901820"),
        ("030.901.820", "+4930901820"),
    ],
)
def test_other_outside_prefixes_and_uri_forms(dialled, number):
    plan = DialPlan("DE", outside_prefix="8", extension_lengths=(3,))
    assert classify(dialled, DE_LINE, "DE", plan).number == number
