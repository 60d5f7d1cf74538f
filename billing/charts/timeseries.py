"""Time series as SVG: stacked columns (values that add up) or lines, with a value axis, a legend and labels
in the reader's locale. Pure functions (no request, no ORM): the web pages and the PDF draw the same chart.

Colours are SVG attributes, not CSS, because WeasyPrint renders the statement's SVG without the page's
stylesheet; classes are there too so the web page may restyle them. Exact numbers belong in a table next
to the chart (every page that shows one has it); each column's and point's ``<title>`` repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from xml.sax.saxutils import escape

from babel.dates import format_skeleton, format_time
from babel.numbers import format_compact_currency, format_compact_decimal, format_currency, format_decimal

# Okabe–Ito and Tableau colours (told apart with the common colour-vision deficiencies); "others" is grey.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#4e79a7",
    "#b07aa1",
    "#9c755f",
    "#59a14f",
    "#edc948",
)
OTHERS_COLOUR = "#9aa0a6"
TEXT = "#1b1f24"
MUTED = "#545d68"
GRID = "#d0d7de"


@dataclass
class ChartSeries:
    label: str
    values: list[Decimal]
    is_others: bool = False


def nice_ticks(top: Decimal, count: int = 4) -> list[Decimal]:
    """0 and up to about ``count`` round steps (1, 2, 2.5 or 5 × 10^k) covering ``top``."""
    if top <= 0:
        return [Decimal(0), Decimal(1)]
    raw = top / count
    exponent = raw.adjusted()
    base = Decimal(10) ** exponent
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if step * base >= raw:
            step = step * base
            break
    ticks, value = [Decimal(0)], Decimal(0)
    while value < top:
        value += step
        ticks.append(value.normalize() if value == value.to_integral() else value)
    return ticks


def bucket_label(value, interval: str, locale: str) -> str:
    """A day, a week (its Monday), a month or an hour of day, written as the locale writes it."""
    if interval == "hour":
        return format_time(time(int(value)), format="short", locale=locale)
    if interval == "month":
        return format_skeleton("yMMM", value, locale=locale)
    if isinstance(value, date):
        return format_skeleton("MMMd", value, locale=locale)
    return str(value)


def value_formatter(locale: str, currency: str | None = None, *, compact: bool = False):
    """How a value is written on the axis (compact: 1.2K) and in a tooltip (in full)."""

    def fmt(value) -> str:
        value = Decimal(value)
        if currency:
            if compact:
                return format_compact_currency(value, currency, locale=locale, fraction_digits=1)
            return format_currency(value, currency, locale=locale)
        if compact:
            return format_compact_decimal(value, locale=locale, fraction_digits=1)
        return format_decimal(value, format="#,##0.##", locale=locale)

    return fmt


def timeseries_svg(
    *,
    labels: list[str],
    series: list[ChartSeries],
    stacked: bool,
    locale: str,
    currency: str | None = None,
    title: str = "",
    width: int = 760,
    height: int = 300,
) -> str:
    """Columns stacked bottom-up in the order of ``series`` (the largest first), or one line per series."""
    if not labels or not series:
        return ""
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    axis_fmt = value_formatter(locale, currency, compact=True)
    full_fmt = value_formatter(locale, currency)
    n = len(labels)
    if stacked:
        top = max((sum((s.values[i] for s in series), Decimal(0)) for i in range(n)), default=Decimal(0))
    else:
        top = max((max(s.values, default=Decimal(0)) for s in series), default=Decimal(0))
    ticks = nice_ticks(Decimal(top))
    axis_top = ticks[-1]
    tick_width = max(len(axis_fmt(t)) for t in ticks) * 7 + 10
    left, right, top_pad = tick_width, 8, 10
    legend_rows = _legend_rows(series, width - left)
    plot_bottom = height - 28 - 20 * len(legend_rows)
    plot_h = plot_bottom - top_pad
    plot_w = width - left - right
    slot = plot_w / n

    def y(value) -> float:
        return plot_bottom - float(Decimal(value) / axis_top) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeseries" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{MUTED}">{escape(axis_fmt(tick))}</text>'
        )
    colours = _colours(series)
    if stacked:
        bar_w = max(slot * 0.72, 1)
        for i in range(n):
            base = Decimal(0)
            x = left + i * slot + (slot - bar_w) / 2
            for s, colour in zip(series, colours, strict=True):
                value = s.values[i]
                if value <= 0:
                    continue
                y_top, y_base = y(base + value), y(base)
                parts.append(
                    f'<rect class="segment" x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" '
                    f'height="{max(y_base - y_top, 0.5):.1f}" fill="{colour}">'
                    f"<title>{escape(labels[i])} · {escape(s.label)}: {escape(full_fmt(value))}</title></rect>"
                )
                base += value
    else:
        for s, colour in zip(series, colours, strict=True):
            points = [(left + (i + 0.5) * slot, y(v)) for i, v in enumerate(s.values)]
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for i, (px, py) in enumerate(points):
                parts.append(
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(labels[i])} · {escape(s.label)}: {escape(full_fmt(s.values[i]))}</title></circle>"
                )
    parts.append(
        f'<line class="axis" x1="{left}" y1="{plot_bottom}" x2="{width - right}" y2="{plot_bottom}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    label_w = max(len(label) for label in labels) * 7 + 8
    every = max(1, -(-int(label_w) // max(int(slot), 1)))
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text class="xlabel" x="{left + (i + 0.5) * slot:.1f}" y="{plot_bottom + 17}" text-anchor="middle" '
                f'font-size="12" fill="{MUTED}">{escape(label)}</text>'
            )
    legend_y = plot_bottom + 34
    for row in legend_rows:
        x = left
        for index, label in row:
            parts.append(
                f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{colours[index]}"/>'
                f'<text class="legend" x="{x + 16}" y="{legend_y}" font-size="12" fill="{TEXT}">{escape(label)}</text>'
            )
            x += _legend_width(label)
        legend_y += 20
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str) -> str:
    return label if len(label) <= 28 else label[:27] + "…"


def _legend_width(label: str) -> int:
    return 16 + len(label) * 7 + 18


def _legend_rows(series: list[ChartSeries], width: int) -> list[list[tuple[int, str]]]:
    rows: list[list[tuple[int, str]]] = [[]]
    used = 0
    for index, s in enumerate(series):
        label = _short(s.label)
        needed = _legend_width(label)
        if rows[-1] and used + needed > width:
            rows.append([])
            used = 0
        rows[-1].append((index, label))
        used += needed
    return rows


def _colours(series: list[ChartSeries]) -> list[str]:
    out, i = [], 0
    for s in series:
        if s.is_others:
            out.append(OTHERS_COLOUR)
        else:
            out.append(PALETTE[i % len(PALETTE)])
            i += 1
    return out
