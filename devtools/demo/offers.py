"""The demo offer catalog: packs, plan changes, an add-on and a retention offer, in each currency.

The packs and plans come from devtools.demo.catalog (the same catalog the lines are on); two plans exist
only to be offered: a pooled national allowance add-on and a light plan for customers whose usage falls.
"""

from datetime import date
from decimal import Decimal as D

from billing.models import Offer, Plan, PlanAllowance, PlanRate
from devtools.demo.catalog import FX, LONG_AGO, plan_code

# Plans that exist only as offers: code -> (name, kind, fee, voice rates {(category, zone): price}, allowances)
OFFER_PLANS = {
    "national-pool": (
        "National Minutes Pool",
        "addon",
        "6.00",
        {},
        [("voice", "400", ["local", "national"], [], True)],
    ),
    "light": (
        "Business Light",
        "plan",
        "8.00",
        {
            ("local", ""): "0.035",
            ("national", ""): "0.055",
            ("mobile", ""): "0.120",
            ("toll_free", ""): "0",
            ("premium", ""): "1.500",
            ("internal", ""): "0",
            ("international", "EU"): "0.250",
            ("international", "NA"): "0.220",
            ("international", "APAC"): "0.450",
            ("international", "ROW"): "0.900",
            ("", ""): "0.060",
        },
        [],
    ),
}

# code, kind, plan base, overlay, generic, priority, title, copy, eligibility (currency added per copy)
OFFERS = [
    (
        "europe-pack",
        "bundle",
        "europe-pack",
        True,
        True,
        10,
        "International Pack Europe",
        "Calls to Europe at a low per-second price, with 600 minutes per line shared by all your lines, "
        "for a monthly fee per line.",
        {"conditions": [{"metric": "minutes_per_month.international.EU", "op": ">=", "value": 100}]},
    ),
    (
        "world-pack",
        "bundle",
        "world-pack",
        True,
        True,
        20,
        "World Pack",
        "1,000 international minutes per line, shared by all your lines, and low per-second prices "
        "to every zone, for a monthly fee per line.",
        {"conditions": [{"metric": "minutes_per_month.international", "op": ">=", "value": 200}]},
    ),
    (
        "switch-unlimited",
        "plan_change",
        "unlimited",
        False,
        True,
        30,
        "Business Unlimited National",
        "3,000 local, national and mobile minutes per line, shared by all your lines.",
        {"conditions": [{"metric": "minutes_per_month.national", "op": ">=", "value": 500}]},
    ),
    (
        "switch-flex",
        "plan_change",
        "flex",
        False,
        False,
        40,
        "Business Flex",
        "500 local and national minutes per line and billing in 30/6-second steps.",
        {"conditions": [{"metric": "minutes_per_month", "op": ">=", "value": 300}]},
    ),
    (
        "national-pool",
        "addon",
        "national-pool",
        True,
        True,
        50,
        "National Minutes Pool",
        "400 local and national minutes per line, shared by all your lines, on top of your plan.",
        {"conditions": [{"metric": "minutes_per_month.national", "op": ">=", "value": 200}]},
    ),
    (
        "stay-light",
        "retention",
        "light",
        False,
        False,
        5,
        "Business Light",
        "A lower monthly fee per line for organizations that call less.",
        {"conditions": [{"metric": "lines_active", "op": ">=", "value": 1}]},
    ),
]


def _offer_plans(currency: str) -> None:
    fx = FX[currency]
    for base, (name, kind, fee, voice, allowances) in OFFER_PLANS.items():
        plan, created = Plan.objects.get_or_create(
            code=plan_code(base, currency),
            defaults=dict(
                name=name,
                kind=kind,
                currency=currency,
                monthly_fee=(D(fee) * fx).quantize(D("0.01")),
                public=True,
                description=f"{name} (offered to customers).",
            ),
        )
        if not created:
            continue
        PlanRate.objects.bulk_create(
            PlanRate(
                plan=plan,
                category=category,
                zone=zone,
                price=(D(price) * fx).quantize(D("0.000001")),
                first_increment=60,
                next_increment=60,
                valid_from=LONG_AGO,
            )
            for (category, zone), price in voice.items()
        )
        if voice:
            PlanRate.objects.create(plan=plan, usage_type="sms", price=D("0.09") * fx, valid_from=LONG_AGO)
            PlanRate.objects.create(plan=plan, usage_type="data", price=D("0.02") * fx, valid_from=LONG_AGO)
        PlanAllowance.objects.bulk_create(
            PlanAllowance(plan=plan, usage_type=t, quantity=D(q), categories=c, zones=z, pooled=p)
            for t, q, c, z, p in allowances
        )


def ensure_offer_catalog(currencies, *, valid_from: date) -> list[Offer]:
    """Create the demo offers for the currencies (idempotent; the packs' plans must exist)."""
    offers = []
    for currency in sorted(currencies):
        _offer_plans(currency)
        for code, kind, base, overlay, generic, priority, title, copy, eligibility in OFFERS:
            offer, _created = Offer.objects.get_or_create(
                code=f"{code}-{currency.lower()}",
                defaults=dict(
                    kind=kind,
                    plan=Plan.objects.get(code=plan_code(base, currency)),
                    overlay=overlay,
                    generic=generic,
                    priority=priority,
                    title=title,
                    customer_copy=copy,
                    eligibility={**eligibility, "currencies": [currency]},
                    valid_from=valid_from,
                ),
            )
            offers.append(offer)
    return offers
