"""Learning from answers: segments, the acceptance model, the choice policy and its offline evaluation.

Pure: no ORM. The services load the model's counts and the candidates, call ``choose`` and store what it
returns in the decision log; ``ips_evaluate`` replays that log. Probabilities are floats (they are not
money); the values they weigh are the Decimal savings or margins turned into floats for scoring only.

The policy, stated (README "Learning"):
- Each offer has, per segment, a Beta posterior of P(accept): a prior from the offer's answers in all
  segments (``prior_from``: Beta(1, 1) plus at most PRIOR_WEIGHT pseudo-answers) plus the segment's own
  accepted and not-accepted counts; "not accepted" counts declines and offers ignored after
  OFFERS_IGNORE_IMPRESSIONS impressions.
- Expected value = P(accept) × value, value being the customer's monthly saving (OFFERS_VALUE = "saving")
  or the provider's monthly margin of the offer ("margin").
- With probability 1 − ε the offer of highest posterior-mean expected value is shown (exploitation);
  with probability ε (OFFERS_EXPLORATION, at most 0.5) one Thompson draw decides: a P(accept) is sampled
  from each posterior and the highest sampled expected value is shown. So at most ε of the decisions
  explore, and the propensity of the choice is (1 − ε)·[it is the greedy one] + ε·P(Thompson picks it),
  the latter estimated from THOMPSON_DRAWS seeded draws (deterministic for a given seed).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

THOMPSON_DRAWS = 2000
MAX_EXPLORATION = 0.5


# --- Segments --------------------------------------------------------------------------------------


def segment_of(metrics: dict[str, Decimal] | None, lines_active: int) -> str:
    """The organization's segment from its own profile: size (lines), usage mix (share of international
    minutes) and trend. Without a profile (no consent, holdout) only the size is known."""
    size = "s" if lines_active <= 5 else "m" if lines_active <= 25 else "l"
    if metrics is None:
        return f"{size}/-/-"
    total = metrics.get("minutes_per_month", Decimal(0))
    international = metrics.get("minutes_per_month.international", Decimal(0))
    share = international / total if total else Decimal(0)
    mix = "intl" if share >= Decimal("0.2") else "domestic"
    trend = metrics.get("trend_percent", Decimal(0))
    direction = "down" if trend <= -10 else "up" if trend >= 10 else "flat"
    return f"{size}/{mix}/{direction}"


# --- The choice ------------------------------------------------------------------------------------

PRIOR_WEIGHT = 10  # at most this many pseudo-answers borrowed from the offer's other segments


def prior_from(accepted: int, not_accepted: int, weight: int = PRIOR_WEIGHT) -> tuple[float, float]:
    """The prior of an (offer, segment) from the offer's answers in all segments: Beta(1, 1) plus at most
    ``weight`` pseudo-answers at the offer's overall acceptance rate. A new segment starts from what the
    offer does elsewhere instead of from a coin flip, and its own answers soon outweigh the prior."""
    n = accepted + not_accepted
    if not n:
        return (1.0, 1.0)
    w = min(n, weight)
    return (1.0 + accepted * w / n, 1.0 + not_accepted * w / n)


@dataclass(frozen=True)
class Arm:
    """A candidate offer for one decision: its value to whoever the setting names, and its counts."""

    key: str  # the offer's code
    value: Decimal
    accepted: int = 0
    not_accepted: int = 0
    prior: tuple[float, float] = (1.0, 1.0)  # Beta prior: see ``prior_from``

    @property
    def alpha(self) -> float:
        return self.prior[0] + self.accepted

    @property
    def beta(self) -> float:
        return self.prior[1] + self.not_accepted

    @property
    def p_mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def expected_value(self) -> float:
        return self.p_mean * float(self.value)


@dataclass
class Choice:
    order: list[int]  # indexes of the arms, the chosen one first, then by expected value
    propensities: list[float]  # per arm (input order): probability the policy shows it first
    explored: bool
    scores: list[float] = field(default_factory=list)  # per arm: posterior-mean expected value

    @property
    def chosen(self) -> int:
        return self.order[0]


def _greedy(values: Sequence[float]) -> int:
    """The first arm of the highest value (ties keep the given order: retention, then catalog order)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _thompson_pick(arms: Sequence[Arm], rng: random.Random) -> int:
    return _greedy([rng.betavariate(a.alpha, a.beta) * float(a.value) for a in arms])


def thompson_shares(arms: Sequence[Arm], rng: random.Random, draws: int = THOMPSON_DRAWS) -> list[float]:
    counts = [0] * len(arms)
    for _ in range(draws):
        counts[_thompson_pick(arms, rng)] += 1
    return [c / draws for c in counts]


def choose(arms: Sequence[Arm], *, exploration: float, rng: random.Random, propensities: bool = True) -> Choice | None:
    """Pick the offer to show first (see the module's docstring); None without candidates.
    ``propensities=False`` skips estimating them (the simulation does not log them)."""
    if not arms:
        return None
    exploration = min(max(float(exploration), 0.0), MAX_EXPLORATION)
    scores = [a.expected_value for a in arms]
    greedy = _greedy(scores)
    explored = rng.random() < exploration
    chosen = _thompson_pick(arms, rng) if explored else greedy
    shares = thompson_shares(arms, rng) if exploration and propensities else [0.0] * len(arms)
    logged = [(1 - exploration) * (i == greedy) + exploration * shares[i] for i in range(len(arms))]
    if propensities and logged[chosen] <= 0:  # the draw picked an arm the estimate never saw: keep a floor
        logged[chosen] = exploration / THOMPSON_DRAWS
    rest = sorted((i for i in range(len(arms)) if i != chosen), key=lambda i: (-scores[i], i))
    return Choice(order=[chosen, *rest], propensities=logged, explored=explored, scores=scores)


# --- Offline evaluation by inverse propensity weighting -----------------------------------------------


@dataclass(frozen=True)
class LoggedDecision:
    """One logged decision whose outcome is known: the candidates as logged, which was shown, with what
    propensity, and whether it was accepted."""

    candidates: list[dict]  # each with "code", "value", "p_mean" (as logged)
    chosen: str
    propensity: float
    accepted: bool


def policy_saving(candidates: list[dict]) -> dict[str, float]:
    """Rank by the value alone (the engine before learning)."""
    best = _greedy([float(c["value"]) for c in candidates])
    return {c["code"]: float(i == best) for i, c in enumerate(candidates)}


def policy_greedy(candidates: list[dict]) -> dict[str, float]:
    """Show the highest logged P(accept) × value, never explore."""
    best = _greedy([float(c["p_mean"]) * float(c["value"]) for c in candidates])
    return {c["code"]: float(i == best) for i, c in enumerate(candidates)}


def policy_random(candidates: list[dict]) -> dict[str, float]:
    return {c["code"]: 1 / len(candidates) for c in candidates}


def policy_logged(candidates: list[dict]) -> dict[str, float]:
    """The logging policy itself, from the propensities it logged (its IPS estimate is its own mean)."""
    return {c["code"]: float(c.get("propensity", 0)) for c in candidates}


POLICIES = {"saving": policy_saving, "greedy": policy_greedy, "random": policy_random, "logged": policy_logged}


@dataclass
class Estimate:
    policy: str
    decisions: int
    acceptance: float  # estimated acceptances per decision
    value: float  # estimated accepted value per decision
    matched: int  # decisions where the policy could have shown the logged offer


def ips_evaluate(policy: str, log: Iterable[LoggedDecision]) -> Estimate:
    """Inverse propensity weighting: each logged decision counts with weight π(shown | x) / p_logged."""
    pick = POLICIES[policy]
    n = matched = 0
    accept = value = 0.0
    for d in log:
        n += 1
        weight = pick(d.candidates).get(d.chosen, 0.0) / d.propensity
        if weight:
            matched += 1
        if d.accepted:
            shown = next(c for c in d.candidates if c["code"] == d.chosen)
            accept += weight
            value += weight * float(shown["value"])
    return Estimate(policy, n, accept / n if n else 0.0, value / n if n else 0.0, matched)
