"""The demo product catalog: the same plans in each currency, with effective-dated rates."""

from datetime import date
from decimal import Decimal as D

from billing.models import Plan, PlanAllowance, PlanRate

LONG_AGO = date(2020, 1, 1)

# (category, zone) -> price per minute, per plan. Toll-free is free everywhere.
VOICE = {
    "basic": {
        ("local", ""): "0.030",
        ("national", ""): "0.050",
        ("mobile", ""): "0.120",
        ("toll_free", ""): "0",
        ("premium", ""): "1.500",
        ("internal", ""): "0",
        ("international", "EU"): "0.250",
        ("international", "NA"): "0.200",
        ("international", "APAC"): "0.450",
        ("international", "ROW"): "0.900",
        ("", ""): "0.060",
    },
    "flex": {
        ("local", ""): "0.025",
        ("national", ""): "0.040",
        ("mobile", ""): "0.100",
        ("toll_free", ""): "0",
        ("premium", ""): "1.500",
        ("internal", ""): "0",
        ("international", "EU"): "0.200",
        ("international", "NA"): "0.180",
        ("international", "APAC"): "0.400",
        ("international", "ROW"): "0.850",
        ("", ""): "0.050",
    },
    "unlimited": {
        ("local", ""): "0.020",
        ("national", ""): "0.020",
        ("mobile", ""): "0.060",
        ("toll_free", ""): "0",
        ("premium", ""): "1.500",
        ("internal", ""): "0",
        ("international", "EU"): "0.220",
        ("international", "NA"): "0.190",
        ("international", "APAC"): "0.420",
        ("international", "ROW"): "0.880",
        ("", ""): "0.040",
    },
    "contact": {
        ("local", ""): "0.010",
        ("national", ""): "0.012",
        ("mobile", ""): "0.050",
        ("toll_free", ""): "0",
        ("premium", ""): "1.500",
        ("internal", ""): "0",
        ("international", "EU"): "0.150",
        ("international", "NA"): "0.150",
        ("international", "APAC"): "0.350",
        ("international", "ROW"): "0.700",
        ("", ""): "0.020",
    },
    "mobile": {
        ("local", ""): "0.040",
        ("national", ""): "0.040",
        ("mobile", ""): "0.040",
        ("toll_free", ""): "0",
        ("premium", ""): "1.800",
        ("internal", ""): "0",
        ("international", "EU"): "0.300",
        ("international", "NA"): "0.350",
        ("international", "APAC"): "0.600",
        ("international", "ROW"): "1.100",
        ("", ""): "0.060",
    },
    # Bundles offered to customers (not on any line in the demo): cheap international minutes.
    "europe-pack": {("international", "EU"): "0.050", ("", ""): "0.050"},
    "world-pack": {
        ("international", "EU"): "0.060",
        ("international", "NA"): "0.060",
        ("international", "APAC"): "0.120",
        ("international", "ROW"): "0.300",
        ("", ""): "0.050",
    },
}
INCREMENTS = {
    "basic": (60, 60),
    "flex": (30, 6),
    "unlimited": (60, 60),
    "contact": (1, 1),
    "mobile": (60, 60),
    "europe-pack": (1, 1),
    "world-pack": (1, 1),
}
PLANS = {
    # code: (name, kind, monthly fee, setup fee, minimum charge)
    "basic": ("Business Basic", "plan", "15.00", "0.02", "0"),
    "flex": ("Business Flex", "plan", "25.00", "0", "0"),
    "unlimited": ("Business Unlimited National", "plan", "45.00", "0", "0"),
    "contact": ("Contact Centre", "plan", "30.00", "0", "0.01"),
    "mobile": ("Business Mobile", "plan", "20.00", "0", "0"),
    "europe-pack": ("International Pack Europe", "bundle", "12.00", "0", "0"),
    "world-pack": ("World Pack", "bundle", "29.00", "0", "0"),
}
ALLOWANCES = {
    "flex": [("voice", "500", ["local", "national"], [], False)],
    "unlimited": [("voice", "3000", ["local", "national", "mobile"], [], True)],
    "mobile": [("data", "5000", [], [], False), ("sms", "200", [], [], False)],
    "europe-pack": [("voice", "600", ["international"], ["EU"], True)],
    "world-pack": [("voice", "1000", ["international"], [], True)],
}
SMS = {"basic": "0.090", "flex": "0.080", "unlimited": "0.080", "contact": "0.080", "mobile": "0.050"}
DATA = {"basic": "0.020", "flex": "0.015", "unlimited": "0.015", "contact": "0.020", "mobile": "0.008"}
# Prices of these currencies relative to the table above (which is in EUR).
FX = {"EUR": D("1"), "USD": D("1.08"), "GBP": D("0.86")}


def plan_code(base: str, currency: str) -> str:
    return f"{base}-{currency.lower()}"


def ensure_catalog(currencies, *, rate_change_on: date) -> dict[str, Plan]:
    """Create the plans for the currencies (idempotent). Business Flex's national rate drops on
    ``rate_change_on``, so the demo period exercises effective-dated rates."""
    plans = {}
    for currency in sorted(currencies):
        fx = FX[currency]
        for base, (name, kind, fee, setup, minimum) in PLANS.items():
            code = plan_code(base, currency)
            plan, created = Plan.objects.get_or_create(
                code=code,
                defaults=dict(
                    name=name,
                    kind=kind,
                    currency=currency,
                    monthly_fee=(D(fee) * fx).quantize(D("0.01")),
                    call_setup_fee=D(setup) * fx,
                    public=True,
                    description=f"{name}: per-minute billing {INCREMENTS[base][0]}/{INCREMENTS[base][1]}.",
                ),
            )
            plans[code] = plan
            if not created:
                continue
            first, step = INCREMENTS[base]
            rates = []
            for (category, zone), price in VOICE[base].items():
                price = (D(price) * fx).quantize(D("0.000001"))
                if base == "flex" and category == "national":
                    rates.append(
                        PlanRate(
                            plan=plan,
                            category=category,
                            zone=zone,
                            price=price,
                            first_increment=first,
                            next_increment=step,
                            valid_from=LONG_AGO,
                            valid_to=rate_change_on,
                        )
                    )
                    rates.append(
                        PlanRate(
                            plan=plan,
                            category=category,
                            zone=zone,
                            price=(price * D("0.8")).quantize(D("0.000001")),
                            first_increment=first,
                            next_increment=step,
                            valid_from=rate_change_on,
                        )
                    )
                    continue
                rates.append(
                    PlanRate(
                        plan=plan,
                        category=category,
                        zone=zone,
                        price=price,
                        first_increment=first,
                        next_increment=step,
                        minimum_charge=D(minimum) * fx,
                        valid_from=LONG_AGO,
                    )
                )
            if base in SMS:
                rates.append(PlanRate(plan=plan, usage_type="sms", price=D(SMS[base]) * fx, valid_from=LONG_AGO))
                rates.append(PlanRate(plan=plan, usage_type="data", price=D(DATA[base]) * fx, valid_from=LONG_AGO))
            PlanRate.objects.bulk_create(rates)
            PlanAllowance.objects.bulk_create(
                PlanAllowance(plan=plan, usage_type=t, quantity=D(q), categories=c, zones=z, pooled=p)
                for t, q, c, z, p in ALLOWANCES.get(base, [])
            )
    return plans
