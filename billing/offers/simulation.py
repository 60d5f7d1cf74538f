"""A simulation of offers over quarters: customers with hidden true propensities answer the offers three
policies show them, one offer per customer per quarter (the contact cap).

Pure and deterministic for a seed: the customers, their savings and every answer are drawn from seeded
generators. The answers use common random numbers (customer c's answer to offer o in quarter q is
``u(c, q, o) < p_true``, the same draw whichever policy showed it), so the policies are compared on the
same customers and the same luck. The learned policy is ``billing.offers.learning.choose``, the very
function the engine ranks with, updating its Beta counts per offer and segment after each quarter.

The hidden truth (an assumption, stated so a run can be read): simple add-ons and packs are accepted
more readily than plan changes, which save the most but ask the customer to move every line; customers
whose usage falls take a lighter plan readily. Nothing of this table is visible to the policies.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from billing.offers.learning import Arm, choose, prior_from

# offer -> (who may get it: mix or "down", typical monthly saving per line, true P(accept) by size s/m/l)
OFFERS = {
    "europe-pack": ("intl", 9.0, (0.30, 0.24, 0.18)),
    "world-pack": ("intl", 14.0, (0.08, 0.06, 0.05)),
    "switch-flex": ("any", 22.0, (0.04, 0.03, 0.02)),
    "switch-unlimited": ("domestic", 16.0, (0.06, 0.05, 0.04)),
    "national-pool": ("domestic", 6.0, (0.35, 0.28, 0.22)),
    "stay-light": ("down", 5.0, (0.45, 0.40, 0.35)),
}
SIZES = {"s": (1, 5), "m": (6, 25), "l": (26, 80)}
DECLINE_REST_QUARTERS = 1  # a declined offer rests the next quarter (OFFERS_DECLINE_SUPPRESS_DAYS = 90)
POLICY_NAMES = ("learned", "saving", "random")


@dataclass
class Customer:
    id: int
    segment: str  # size/mix/trend, as billing.offers.learning.segment_of names them
    size: str
    savings: dict[str, Decimal]  # offer -> monthly saving for this customer (the value ranked on)
    truth: dict[str, float]  # offer -> hidden P(accept)


@dataclass
class PolicyResult:
    name: str
    shown: int = 0
    accepted: int = 0
    accepted_value: Decimal = Decimal(0)  # monthly savings of the accepted offers
    by_quarter: list[tuple[int, Decimal]] = field(default_factory=list)  # (accepted, value) per quarter

    @property
    def acceptance(self) -> float:
        return self.accepted / self.shown if self.shown else 0.0


def customers_draw(n: int, seed: int) -> list[Customer]:
    rng = random.Random(f"customers:{seed}")
    result = []
    for i in range(n):
        size = rng.choice(list(SIZES))
        lines = rng.randint(*SIZES[size])
        mix = "intl" if rng.random() < 0.45 else "domestic"
        trend = "down" if rng.random() < 0.2 else "flat"
        savings, truth = {}, {}
        for code, (who, per_line, p_by_size) in OFFERS.items():
            if who not in ("any", mix) and not (who == "down" and trend == "down"):
                continue
            saving = per_line * lines * rng.lognormvariate(0, 0.35)
            savings[code] = Decimal(str(saving)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            truth[code] = p_by_size["sml".index(size)]
        result.append(Customer(i, f"{size}/{mix}/{trend}", size, savings, truth))
    return result


def _u(seed: int, customer: int, quarter: int, offer: str) -> float:
    digest = hashlib.sha256(f"{seed}:{customer}:{quarter}:{offer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def simulate(*, quarters: int, customers: int, seed: int, exploration: float = 0.1) -> dict[str, PolicyResult]:
    population = customers_draw(customers, seed)
    results = {}
    for name in POLICY_NAMES:
        rng = random.Random(f"policy:{name}:{seed}")
        counts: dict[tuple[str, str], list[int]] = {}  # (offer, segment) -> [accepted, not accepted]
        overall: dict[str, list[int]] = {}  # offer -> [accepted, not accepted] over all segments
        taken: dict[int, set[str]] = {c.id: set() for c in population}
        resting: dict[tuple[int, str], int] = {}  # (customer, offer) -> first quarter it may be shown again
        result = PolicyResult(name)
        for quarter in range(quarters):
            answers = []
            for c in population:
                open_offers = [
                    code for code in c.savings if code not in taken[c.id] and resting.get((c.id, code), 0) <= quarter
                ]
                if not open_offers:
                    continue
                if name == "saving":
                    pick = max(open_offers, key=lambda code: (c.savings[code], code))
                elif name == "random":
                    pick = rng.choice(open_offers)
                else:
                    arms = [
                        Arm(
                            code,
                            c.savings[code],
                            *counts.get((code, c.segment), (0, 0)),
                            prior=prior_from(*overall.get(code, (0, 0))),
                        )
                        for code in open_offers
                    ]
                    choice = choose(arms, exploration=exploration, rng=rng, propensities=False)
                    pick = open_offers[choice.chosen]
                accepted = _u(seed, c.id, quarter, pick) < c.truth[pick]
                answers.append((c, pick, accepted))
            q_accepted, q_value = 0, Decimal(0)
            for c, pick, accepted in answers:  # the model learns once the quarter's answers are in
                result.shown += 1
                row = counts.setdefault((pick, c.segment), [0, 0])
                everywhere = overall.setdefault(pick, [0, 0])
                everywhere[0 if accepted else 1] += 1
                if accepted:
                    row[0] += 1
                    taken[c.id].add(pick)
                    q_accepted += 1
                    q_value += c.savings[pick]
                else:
                    row[1] += 1
                    resting[(c.id, pick)] = quarter + 1 + DECLINE_REST_QUARTERS
            result.accepted += q_accepted
            result.accepted_value += q_value
            result.by_quarter.append((q_accepted, q_value))
        results[name] = result
    return results


def report_lines(results: dict[str, PolicyResult], *, quarters: int, customers: int, seed: int) -> list[str]:
    lines = [
        f"{customers} customers, {quarters} quarters, one offer per customer per quarter, seed {seed}",
        f"{'policy':<8} {'shown':>6} {'accepted':>9} {'rate':>7} {'accepted value / month':>23}",
    ]
    for r in results.values():
        lines.append(f"{r.name:<8} {r.shown:>6} {r.accepted:>9} {r.acceptance:>7.1%} {r.accepted_value:>23,.2f}")
    learned, saving, rand = (results[n] for n in POLICY_NAMES)
    if saving.accepted_value and rand.accepted_value:
        lines.append(
            f"learned / saving-only accepted value: {learned.accepted_value / saving.accepted_value:.2f}; "
            f"learned / random: {learned.accepted_value / rand.accepted_value:.2f}"
        )
    return lines
