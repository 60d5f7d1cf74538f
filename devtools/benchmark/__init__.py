"""The performance benchmark behind ``manage.py benchmark``: figures measured side by side in one run.

Each figure is timed several times and reported as medians/percentiles next to a baseline measured in
the same run on the same machine (bare SQL over the rollups and raw records, a bare COPY, a minimal
WeasyPrint document), so the ratios mean something even when the CPUs are shared. It is tooling that
knows both sides of the project (like the demo seeder): the warehouse and the API/tokens.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    key: str  # stable name, e.g. "summary.location_month.p95_ms"
    label: str  # what a reader sees
    value: float | int | None
    unit: str
    target: str = ""  # human text, e.g. "≤ 150 ms"; empty for context figures
    passed: bool | None = None  # None: no target (context, baseline)
    note: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    context: dict = field(default_factory=dict)

    def add(self, key, label, value, unit, target="", passed=None, note="") -> Figure:
        figure = Figure(key, label, value, unit, target, passed, note)
        self.figures.append(figure)
        return figure

    def keys(self) -> set[str]:
        return {f.key for f in self.figures}

    def table(self) -> str:
        rows = [("#", "figure", "value", "target", "result")]
        for f in self.figures:
            rows.append((f.key.split(".")[0], f.label, fmt_value(f.value, f.unit), f.target, f.verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for i, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        notes = [f"  {f.key}: {f.note}" for f in self.figures if f.note]
        return "\n".join(lines + (["", "Notes:", *notes] if notes else []))

    def as_json(self) -> str:
        return json.dumps(
            {"context": self.context, "figures": [{**asdict(f), "result": f.verdict or None} for f in self.figures]},
            indent=2,
            default=str,
        )


def fmt_value(value, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "×":
        return f"{value:.1f}×" if value < 100 else f"{value:.0f}×"
    if isinstance(value, float):
        return f"{value:,.1f} {unit}".strip()
    return f"{value:,} {unit}".strip()


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0–100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timed(fn, repeats: int, warmup: int = 1) -> list[float]:
    """Milliseconds of ``repeats`` calls of fn after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out
