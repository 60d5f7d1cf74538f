# Over 400 lines: the demo's organizations, people and a year of usage are data written as code; development tooling.
"""Deterministic demo data: four business customers of different shapes with months of realistic usage.

Everything random comes from ``random.Random`` instances derived from the seed (never the global
generator), and iteration orders are fixed, so the same arguments give the same data. Usage is
generated lazily, day by day and line by line, and written with COPY through the usage writer.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, connections, transaction

from billing.models import Line, LineAssignment, LinePlan, Location, Organization, Person
from billing.models.choices import duration_band
from billing.months import month_start
from billing.numbers import classify
from billing.usage.writer import NewUsageRecord, usage_records_write
from devtools.demo.catalog import ensure_catalog, plan_code
from devtools.demo.offers import ensure_offer_catalog

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - documented demo login, printed by seed_demo
FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Karla",
    "Lukas",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xenia",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adler",
    "Brooks",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jansen",
    "Keller",
    "Larsen",
    "Meyer",
    "Novak",
    "Owens",
    "Peters",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Vogel",
    "Walsh",
    "Young",
    "Zimmer",
]
HOURS = [0, 0, 0, 0, 0, 0, 1, 4, 9, 12, 12, 11, 6, 8, 11, 11, 10, 7, 3, 1, 1, 0, 0, 0]  # lunch dip at 12


@dataclass
class Shape:
    key: str
    account: str
    name: str
    country: str
    time_zone: str
    currency: str
    locale: str
    billing_day: int
    tax_rate: str
    consent: bool
    address: str
    vat_id: str
    sites: list[tuple[str, str, int]]  # (name, area digits for numbers, people)
    plan: str
    calls_per_line_day: float
    mu: float  # log-normal duration parameters (seconds)
    sigma: float
    mix: dict[str, float]  # destination kind -> weight
    inbound: float = 0.3
    unanswered: float = 0.17
    weekend: float = 0.05
    mobile_lines: int = 0  # extra mobile lines (HQ people) with SMS and data
    one_line_per_site: bool = False
    extras: dict = field(default_factory=dict)
    einvoice: dict = field(default_factory=dict)  # Organization e-invoice fields (format, buyer reference, address)


SHAPES = [
    Shape(
        "law",
        "LAW-100234",
        "Hudson & Lane LLP",
        "US",
        "America/New_York",
        "USD",
        "en-US",
        1,
        "0",
        True,
        "350 Fifth Avenue, Suite 4100\nNew York, NY 10118\nUSA",
        "EIN 13-4567890",
        [("New York", "212", 12), ("Boston", "617", 8), ("Washington", "202", 5)],
        "flex",
        7.0,
        5.3,
        1.05,
        {"local": 30, "national": 38, "mobile": 12, "eu": 8, "apac": 3, "row": 2, "toll_free": 7},
        inbound=0.35,
    ),
    Shape(
        "retail",
        "RET-200871",
        "Kaufhaus Nord GmbH",
        "DE",
        "Europe/Berlin",
        "EUR",
        "de-DE",
        1,
        "0.19",
        False,
        "Mönckebergstraße 7\n20095 Hamburg\nDeutschland",
        "DE298765432",
        [
            (f"Filiale {i:02d} {city}", area, 1)
            for i, (city, area) in enumerate(
                [("Hamburg", "40"), ("Berlin", "30"), ("München", "89"), ("Köln", "221"), ("Frankfurt", "69")] * 8, 1
            )
        ],
        "basic",
        9.0,
        4.3,
        0.85,
        {"local": 28, "national": 45, "mobile": 22, "toll_free": 5},
        inbound=0.3,
        weekend=0.45,
        mobile_lines=6,
        one_line_per_site=True,
        einvoice={
            "einvoice_format": "xrechnung",
            "buyer_reference": "KN-EINKAUF-4711",
            "einvoice_address": "EM:rechnungseingang@kaufhaus-nord.example",
        },
    ),
    Shape(
        "contact",
        "CCC-300552",
        "Callworks Ltd",
        "GB",
        "Europe/London",
        "GBP",
        "en-GB",
        15,
        "0.20",
        True,
        "Wellington Place 4\nLeeds LS1 4AP\nUnited Kingdom",
        "GB987654321",
        [("Leeds — Floor 1", "113", 32), ("Leeds — Floor 2", "113", 28)],
        "contact",
        14.0,
        5.8,
        0.95,
        {"national": 45, "mobile": 35, "local": 15, "toll_free": 5},
        inbound=0.55,
        unanswered=0.2,
    ),
    Shape(
        "consult",
        "MER-400117",
        "Meridian Advisory B.V.",
        "NL",
        "Europe/Amsterdam",
        "EUR",
        "nl-NL",
        5,
        "0.21",
        True,
        "Herengracht 420\n1017 BZ Amsterdam\nNederland",
        "NL859012345B01",
        [("Amsterdam HQ", "20", 10), ("Rotterdam", "10", 5), ("Utrecht", "30", 3)],
        "mobile",
        6.0,
        5.6,
        1.0,
        {"eu": 32, "na": 15, "apac": 10, "row": 3, "national": 20, "mobile": 15, "local": 5},
        inbound=0.3,
    ),
]


def _digits(rnd: random.Random, n: int) -> str:
    return str(rnd.randrange(2, 10)) + "".join(str(rnd.randrange(10)) for _ in range(n - 1))


def _own_number(country: str, area: str, rnd: random.Random) -> str:
    return {
        "US": lambda: f"+1{area}{_digits(rnd, 7)}",
        "DE": lambda: f"+49{area}{_digits(rnd, 10 - len(area))}",
        "GB": lambda: f"+44{area}{_digits(rnd, 7)}",
        "NL": lambda: f"+31{area}{_digits(rnd, 9 - len(area))}",
    }[country]()


def _mobile_number(country: str, rnd: random.Random) -> str:
    return {
        "US": lambda: f"+1917{_digits(rnd, 7)}",
        "DE": lambda: f"+49{rnd.choice(['151', '160', '170', '171', '176'])}{_digits(rnd, 8)}",
        "GB": lambda: f"+447{rnd.choice(['911', '700', '812', '403'])}{_digits(rnd, 6)}",
        "NL": lambda: f"+316{_digits(rnd, 8)}",
    }[country]()


NATIONAL_AREAS = {
    "US": ["312", "415", "305", "713", "206"],
    "DE": ["30", "40", "89", "221", "69", "711"],
    "GB": ["20", "161", "121", "131"],
    "NL": ["20", "10", "30", "70", "40"],
}
TOLL_FREE = {
    "US": lambda r: f"+1800{_digits(r, 7)}",
    "DE": lambda r: f"+49800{_digits(r, 7)}",
    "GB": lambda r: f"+44800{_digits(r, 7)}",
    "NL": lambda r: f"+31800{_digits(r, 4)}",
}
PREMIUM = {
    "US": lambda r: f"+1900{_digits(r, 7)}",
    "DE": lambda r: f"+499001{_digits(r, 6)}",
    "GB": lambda r: f"+44909{_digits(r, 7)}",
    "NL": lambda r: f"+31900{_digits(r, 4)}",
}
ABROAD = {
    "eu": [
        lambda r: f"+331{_digits(r, 8)}",
        lambda r: f"+4930{_digits(r, 8)}",
        lambda r: f"+3906{_digits(r, 8)}",
        lambda r: f"+3491{_digits(r, 7)}",
        lambda r: f"+4420{_digits(r, 8)}",
        lambda r: f"+3222{_digits(r, 6)}",
    ],
    "na": [lambda r: f"+1212{_digits(r, 7)}", lambda r: f"+1415{_digits(r, 7)}", lambda r: f"+1416{_digits(r, 7)}"],
    "apac": [lambda r: f"+813{_digits(r, 8)}", lambda r: f"+656{_digits(r, 7)}", lambda r: f"+612{_digits(r, 8)}"],
    "row": [lambda r: f"+5511{_digits(r, 8)}", lambda r: f"+2711{_digits(r, 7)}", lambda r: f"+97145{_digits(r, 6)}"],
}


def _destination_pool(shape: Shape, rnd: random.Random, size: int) -> dict[str, list[str]]:
    """Numbers this customer calls again and again (a business calls the same clients and suppliers)."""
    pool: dict[str, list[str]] = {}
    for kind in sorted(shape.mix):
        numbers = []
        for _ in range(size):
            if kind == "local":
                numbers.append("LOCAL")  # resolved per line from pool["local:<area>"]: the calling line's area
            elif kind == "national":
                numbers.append(_own_number(shape.country, rnd.choice(NATIONAL_AREAS[shape.country]), rnd))
            elif kind == "mobile":
                numbers.append(_mobile_number(shape.country, rnd))
            elif kind == "toll_free":
                numbers.append(TOLL_FREE[shape.country](rnd))
            else:
                numbers.append(rnd.choice(ABROAD[kind])(rnd))
        pool[kind] = numbers
    for area in sorted({area for _name, area, _n in shape.sites}):
        pool[f"local:{area}"] = [_own_number(shape.country, area, rnd) for _ in range(size)]
    return pool


def _poisson(rnd: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rnd.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class LineSpec:
    line: Line
    area: str
    rate: float  # calls per working day
    periods: list[tuple[datetime, datetime | None, int | None, int | None]]  # assignment history
    mobile: bool = False


@dataclass
class SeedReport:
    organizations: list[tuple[str, int, float]] = field(default_factory=list)  # name, records, seconds
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, organization, role


def demo_accounts() -> list[str]:
    return [shape.account for shape in SHAPES]


def seed_reset() -> None:
    """Remove the demo organizations and users (usage, statements and audit entries included)."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The append-only and immutability triggers allow deletes only when told so, in this transaction.
        cursor.execute("SET LOCAL billing.allow_usage_delete = 'on'")
        cursor.execute("SET LOCAL billing.allow_statement_delete = 'on'")
        cursor.execute("SET LOCAL portal.allow_audit_delete = 'on'")
        ids = list(Organization.objects.filter(account_number__in=demo_accounts()).values_list("id", flat=True))
        if ids:
            for table in (
                "billing_offerchangerequest",
                "billing_offerresponse",
                "billing_offerimpression",
                "billing_offerrecommendation",
                "billing_offerrun",
                "billing_usagedaily",
                "billing_usagehourly",
                "billing_usagemonthly",
                "billing_usagerecord",
                "billing_adjustment",
                "portal_auditlog",
            ):
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = ANY(%s)", [ids])  # noqa: S608
            cursor.execute(
                "DELETE FROM billing_statementline WHERE statement_id IN "
                "(SELECT id FROM billing_statement WHERE organization_id = ANY(%s))",
                [ids],
            )
            cursor.execute(
                "DELETE FROM billing_statementbreakdown WHERE statement_id IN "
                "(SELECT id FROM billing_statement WHERE organization_id = ANY(%s))",
                [ids],
            )
            cursor.execute("DELETE FROM billing_statement WHERE organization_id = ANY(%s)", [ids])
            from portal.models import Membership  # demo tooling: knows both sides

            Membership.objects.filter(organization_id__in=ids).delete()
            for model in (LinePlan, LineAssignment):
                model.objects.filter(organization_id__in=ids).delete()
            Organization.objects.filter(id__in=ids).delete()
        get_user_model().objects.filter(email__endswith="@demo.example").delete()


UsageSink = Callable[[Iterator[NewUsageRecord]], int]


def _write_usage(records: Iterator[NewUsageRecord]) -> int:
    return usage_records_write(records=records).inserted


def seed_demo(
    *,
    seed: int = 42,
    scale: float = 1.0,
    months: int = 6,
    end: date,
    log=print,
    usage_sink: UsageSink = _write_usage,
    workers: int = 1,
) -> SeedReport:
    """Create the demo customers, their people, lines, plans and usage up to (not including) ``end``.

    ``usage_sink`` takes each organization's records (in its transaction) and returns how many it
    wrote; by default the usage writer (rollups rebuilt per day). The benchmark's bulk builder
    (devtools/benchmark/dataset.py) passes one that COPYs straight into the usage table, and seeds the
    organizations in ``workers`` processes at once (each organization's data comes from its own random
    generator, so the data is the same either way; the sink must then be a module-level function)."""
    start = month_start(end.replace(day=1), months)
    catalog = ensure_catalog({s.currency for s in SHAPES}, rate_change_on=month_start(end.replace(day=1), months // 2))
    ensure_offer_catalog({s.currency for s in SHAPES}, valid_from=start)
    report = SeedReport()
    jobs = [(index, seed, scale, start, end, catalog, usage_sink) for index in range(len(SHAPES))]
    if workers > 1:
        if connection.in_atomic_block:
            raise RuntimeError("seed_demo(workers > 1) must not run in a transaction: the workers could not see it")
        connections.close_all()  # each forked process opens its own connection
        with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
            results = pool.map(_seed_organization, jobs, chunksize=1)
    else:
        results = map(_seed_organization, jobs)
    for name, lines, count, seconds, logins in results:
        report.organizations.append((name, count, seconds))
        log(f"  {name}: {lines} lines, {count:,} usage records ({seconds:.1f} s)")
        report.logins += logins
    report.logins += _multi_and_staff()
    # Fresh statistics for what was just bulk-loaded: autovacuum analyzes each partition only a while
    # later (and never the partitioned parent), and until then the planner may choose badly (measured:
    # a drill-down page 234 ms right after a seed, 21 ms once analyzed).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_usagerecord, billing_usagedaily, billing_usagehourly, billing_usagemonthly")
    return report


def _seed_organization(job) -> tuple[str, int, int, float, list[tuple[str, str, str]]]:
    """One customer with its usage and logins, in one transaction: (name, lines, records, seconds, logins)."""
    index, seed, scale, start, end, catalog, usage_sink = job
    shape = SHAPES[index]
    began = time.monotonic()
    rnd = random.Random(f"{seed}:{shape.key}")
    with transaction.atomic():
        org, specs = _customer(shape, rnd, scale, start, end, catalog)
        count = usage_sink(_usage(org, shape, specs, rnd, scale, start, end, seed))
        logins = _logins(org, shape, index)
    return org.name, len(specs), count, time.monotonic() - began, logins


def _customer(shape: Shape, rnd: random.Random, scale: float, start: date, end: date, catalog):
    org = Organization.objects.create(
        account_number=shape.account,
        name=shape.name,
        country=shape.country,
        time_zone=shape.time_zone,
        currency=shape.currency,
        locale=shape.locale,
        billing_day=shape.billing_day,
        tax_rate=D(shape.tax_rate),
        billing_address=shape.address,
        vat_id=shape.vat_id,
        personalization_consent=shape.consent,
        **shape.einvoice,
    )
    tz = zoneinfo.ZoneInfo(shape.time_zone)
    plan = catalog[plan_code(shape.plan, shape.currency)]
    mobile_plan = catalog[plan_code("mobile", shape.currency)]
    used_numbers: set[str] = set()
    people_all: list[Person] = []
    specs: list[LineSpec] = []
    since = datetime(start.year, start.month, 1, tzinfo=tz) - timedelta(days=400)

    def new_person(department: str) -> Person:
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        person = Person.objects.create(
            organization=org,
            name=name,
            department=department,
            employee_number=f"E{len(people_all) + 1001}",
            email=f"{name.lower().replace(' ', '.')}@{shape.key}.example",
        )
        people_all.append(person)
        return person

    def new_line(area, person, location, activated: datetime, mobile=False, rate=1.0) -> LineSpec:
        while True:
            number = _mobile_number(shape.country, rnd) if mobile else _own_number(shape.country, area, rnd)
            if number not in used_numbers and not Line.objects.filter(number=number).exists():
                break
        used_numbers.add(number)
        line = Line.objects.create(
            organization=org,
            number=number,
            activated_on=activated.astimezone(tz).date(),
            label="Mobile" if mobile else (location.name if shape.one_line_per_site else ""),
        )
        spec = LineSpec(
            line,
            area,
            shape.calls_per_line_day * rate,
            [(activated, None, person.id if person else None, location.id)],
            mobile,
        )
        LinePlan.objects.create(
            organization=org, line=line, plan=mobile_plan if mobile else plan, valid_from=line.activated_on
        )
        specs.append(spec)
        return spec

    locations = []
    for site_name, area, people in shape.sites:
        location = Location.objects.create(
            organization=org,
            name=site_name,
            code=f"S{len(locations) + 1:02d}",
            city=site_name.split(" ")[-1],
            country=shape.country,
        )
        locations.append((location, area))
        count = 1 if shape.one_line_per_site else max(1, round(people * scale))
        for _ in range(count):
            person = None if shape.one_line_per_site else new_person(site_name)
            new_line(area, person, location, since, rate=rnd.uniform(0.6, 1.4))
    hq_location, hq_area = locations[0]
    for _ in range(max(0, round(shape.mobile_lines * max(scale, 1)))):
        new_line(hq_area, new_person("Headquarters"), hq_location, since, mobile=True, rate=0.5)

    # History: some lines change hands or sites, some are added late, some switched off.
    begin = datetime(start.year, start.month, start.day, tzinfo=tz)
    span = (datetime(end.year, end.month, end.day, tzinfo=tz) - begin).days
    movable = [s for s in specs if s.periods[0][2] is not None]
    for spec in rnd.sample(movable, min(3, len(movable))):
        moved = (begin + timedelta(days=rnd.randrange(span // 3, 2 * span // 3))).replace(hour=0)
        location_id = rnd.choice(locations)[0].id if rnd.random() < 0.5 else spec.periods[0][3]
        spec.periods = [
            (spec.periods[0][0], moved, spec.periods[0][2], spec.periods[0][3]),
            (moved, None, new_person("Transferred").id, location_id),
        ]
    for _ in range(2 if shape.key in ("contact", "law") else 0):
        location, area = rnd.choice(locations)
        activated = (begin + timedelta(days=span - rnd.randrange(30, 60))).replace(hour=0)
        new_line(area, new_person(location.name), location, activated)
    if shape.key in ("law", "contact"):
        for spec in rnd.sample([s for s in specs if s.periods[0][0] == since], 2):
            off = (begin + timedelta(days=span - rnd.randrange(20, 40))).date()
            Line.objects.filter(pk=spec.line.pk).update(deactivated_on=off)
            spec.line.deactivated_on = off
            LinePlan.objects.filter(line=spec.line).update(valid_to=off)
    LineAssignment.objects.bulk_create(
        LineAssignment(organization=org, line=s.line, person_id=p, location_id=loc, valid_from=a, valid_to=b)
        for s in specs
        for a, b, p, loc in s.periods
    )
    return org, specs


def _usage(
    org, shape: Shape, specs: list[LineSpec], rnd: random.Random, scale: float, start: date, end: date, seed: int
) -> Iterator[NewUsageRecord]:
    tz = zoneinfo.ZoneInfo(shape.time_zone)
    pool = _destination_pool(shape, rnd, size=max(60, int(400 * min(scale, 5))))
    kinds = sorted(shape.mix)
    weights = [shape.mix[k] for k in kinds]
    cum_hours = list(_cumulative(HOURS))
    cum_kinds = list(_cumulative(weights))
    days = (end - start).days
    last_month_start = month_start(end.replace(day=1), 1)
    jumpy_site = specs[len(specs) // 2].periods[-1][3]  # a location whose usage jumps in the last full month
    premium_store = specs[min(16, len(specs) - 1)]
    serial = [0]

    def records() -> Iterator[NewUsageRecord]:
        for offset in range(days):
            day = start + timedelta(days=offset)
            weekday = day.weekday()
            factor = 1.0 if weekday < 5 else (shape.weekend if weekday == 5 else shape.weekend / 4)
            for spec in specs:
                line = spec.line
                if day < line.activated_on or (line.deactivated_on and day >= line.deactivated_on):
                    continue
                lam = spec.rate * factor
                if last_month_start <= day < end.replace(day=1) and spec.periods[-1][3] == jumpy_site:
                    lam *= 2.2
                for _ in range(_poisson(rnd, lam)):
                    yield from _one_call(
                        spec, day, tz, org, shape, pool, kinds, cum_kinds, cum_hours, rnd, seed, serial
                    )
                if spec.mobile:
                    for _ in range(_poisson(rnd, 3 * factor)):
                        yield _simple(spec, day, tz, org, "sms", rnd, seed, serial, pool)
                    for _ in range(_poisson(rnd, 4 * factor)):
                        yield _simple(spec, day, tz, org, "data", rnd, seed, serial, pool)
            if shape.key == "retail" and day == last_month_start + timedelta(days=9):
                # Anomaly: a burst of premium-rate calls from one store.
                for i in range(25):
                    yield _call(
                        spec=premium_store,
                        started=_at(day, 14, i * 2, tz),
                        seconds=240 + i * 7,
                        other=PREMIUM[shape.country](rnd),
                        org=org,
                        direction="outbound",
                        answered=True,
                        seed=seed,
                        serial=serial,
                    )
            if day == start + timedelta(days=days // 2) and specs[0].line.activated_on <= day:
                # Anomaly: a few extremely long calls.
                for hours in (3.2, 4.5):
                    yield _call(
                        spec=specs[0],
                        started=_at(day, 9, int(hours * 3), tz),
                        seconds=int(hours * 3600),
                        other=pool[f"local:{specs[0].area}"][0],
                        org=org,
                        direction="outbound",
                        answered=True,
                        seed=seed,
                        serial=serial,
                    )

    return records()


def _cumulative(weights):
    total = 0
    for w in weights:
        total += w
        yield total


def _at(day: date, hour: int, minute: int, tz) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute % 60, tzinfo=tz).astimezone(UTC)


def _stamp(spec: LineSpec, started: datetime) -> tuple[int | None, int | None]:
    for a, b, person, location in spec.periods:
        if a <= started and (b is None or started < b):
            return person, location
    return None, None


def _one_call(spec, day, tz, org, shape, pool, kinds, cum_kinds, cum_hours, rnd, seed, serial):
    hour = rnd.choices(range(24), cum_weights=cum_hours)[0]
    started = datetime(day.year, day.month, day.day, hour, rnd.randrange(60), rnd.randrange(60), tzinfo=tz)
    inbound = rnd.random() < shape.inbound
    kind = rnd.choices(kinds, cum_weights=cum_kinds)[0]
    if inbound and kind in ("toll_free",):
        kind = "national"
    other = rnd.choice(pool[kind])
    if other == "LOCAL":
        other = rnd.choice(pool[f"local:{spec.area}"])
    answered = rnd.random() >= (shape.unanswered if not inbound else shape.unanswered / 2)
    seconds = min(int(rnd.lognormvariate(shape.mu, shape.sigma)), 7200) if answered else rnd.randrange(5, 40)
    yield _call(
        spec=spec,
        started=started.astimezone(UTC),
        seconds=max(seconds, 1),
        other=other,
        org=org,
        direction="inbound" if inbound else "outbound",
        answered=answered,
        seed=seed,
        serial=serial,
    )


def _call(*, spec, started, seconds, other, org, direction, answered, seed, serial) -> NewUsageRecord:
    dest = classify(other, spec.line.number, org.country)
    local = started.astimezone(org.tz)
    person, location = _stamp(spec, started)
    serial[0] += 1
    billable = max(seconds - 3, 1) if answered else 0
    return NewUsageRecord(
        organization_id=org.id,
        line_id=spec.line.id,
        person_id=person,
        location_id=location,
        usage_type="voice",
        started_at=started,
        local_date=local.date(),
        local_hour=local.hour,
        duration_seconds=seconds,
        billable_seconds=billable,
        duration_band=duration_band(seconds),
        direction=direction,
        answered=answered,
        destination=dest.number,
        destination_masked=dest.masked,
        category=dest.category,
        country=dest.country,
        zone=dest.zone,
        data_bytes=0,
        source="demo",
        source_id=f"{seed}-{org.account_number}-{serial[0]}",
        import_batch_id=None,
    )


def _simple(spec, day, tz, org, kind, rnd, seed, serial, pool) -> NewUsageRecord:
    hour = rnd.randrange(7, 22)
    started = datetime(day.year, day.month, day.day, hour, rnd.randrange(60), rnd.randrange(60), tzinfo=tz)
    started_utc = started.astimezone(UTC)
    person, location = _stamp(spec, started_utc)
    serial[0] += 1
    dest = (
        classify(rnd.choice(pool.get("mobile") or pool[sorted(pool)[0]]), spec.line.number, org.country)
        if kind == "sms"
        else None
    )
    return NewUsageRecord(
        organization_id=org.id,
        line_id=spec.line.id,
        person_id=person,
        location_id=location,
        usage_type=kind,
        started_at=started_utc,
        local_date=day,
        local_hour=hour,
        duration_seconds=0,
        billable_seconds=0,
        duration_band=0,
        direction="outbound",
        answered=True,
        destination=dest.number if dest else "",
        destination_masked=dest.masked if dest else "",
        category=dest.category if dest else "other",
        country=dest.country if dest else "",
        zone=dest.zone if dest else "",
        data_bytes=int(rnd.lognormvariate(16, 1.2)) if kind == "data" else 0,
        source="demo",
        source_id=f"{seed}-{org.account_number}-{serial[0]}",
        import_batch_id=None,
    )


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # One (slow, salted) hash for every demo user: they share the documented demo password anyway.
    return make_password(DEMO_PASSWORD)


def _logins(org: Organization, shape: Shape, index: int) -> list[tuple[str, str, str]]:
    from portal.models import Membership

    User = get_user_model()
    logins = []
    password = _password_hash()
    persons = list(org.persons.order_by("id"))
    locations = list(org.locations.order_by("id"))
    for role, suffix in (
        ("admin", "admin"),
        ("analyst", "analyst"),
        ("location_manager", "manager"),
        ("member", "member"),
    ):
        username = f"{shape.key}-{suffix}"
        user = User.objects.create(
            username=username,
            email=f"{username}@demo.example",
            password=password,
            first_name=suffix.capitalize(),
            last_name=shape.name.split(" ")[0],
        )
        person = persons[0] if role == "member" and persons else None
        membership = Membership.objects.create(user=user, organization=org, role=role, person=person)
        if role == "location_manager":
            membership.locations.set(locations[:2])
        logins.append((username, org.name, role))
    return logins


def _multi_and_staff() -> list[tuple[str, str, str]]:
    from portal.models import Membership

    User = get_user_model()
    multi = User.objects.create_user(
        "group-controller",
        email="group-controller@demo.example",
        password=DEMO_PASSWORD,
        first_name="Group",
        last_name="Controller",
    )
    rows = []
    for account in ("LAW-100234", "MER-400117"):
        org = Organization.objects.get(account_number=account)
        Membership.objects.create(user=multi, organization=org, role="analyst")
        rows.append(("group-controller", org.name, "analyst"))
    User.objects.create_superuser("staff", email="staff@demo.example", password=DEMO_PASSWORD)
    rows.append(("staff", "(provider staff: Django admin at /admin/)", "superuser"))
    return rows
