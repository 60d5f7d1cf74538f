"""Small server-side SVG charts, shared by the web pages and the PDF (no JavaScript needed)."""

from decimal import Decimal
from xml.sax.saxutils import escape


def bar_chart(
    values: list[tuple[str, Decimal]], *, width: int = 520, height: int = 120, title: str = "", tooltips: bool = True
) -> str:
    """A bar chart as an SVG string; ``values`` are (label, amount). Labels of every 7th bar are shown.

    ``tooltips=False`` leaves out each bar's ``<title>`` (a PDF cannot show them; statement template v2)."""
    if not values:
        return ""
    top = max((v for _, v in values), default=Decimal(0)) or Decimal(1)
    n = len(values)
    gap = 2
    bar_w = max((width - 30 - gap * n) / n, 1)
    chart_h = height - 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<line x1="28" y1="{chart_h}" x2="{width}" y2="{chart_h}" stroke="#8c959f" stroke-width="1"/>',
    ]
    for i, (label, value) in enumerate(values):
        h = float(value / top) * (chart_h - 6)
        x = 30 + i * (bar_w + gap)
        rect = f'<rect x="{x:.1f}" y="{chart_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#0b5cad"'
        parts.append(f"{rect}><title>{escape(label)}: {value}</title></rect>" if tooltips else f"{rect}/>")
        if i % 7 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="9" fill="#57606a">{escape(label)}</text>')
    parts.append(f'<text x="0" y="10" font-size="9" fill="#57606a">{escape(str(top.quantize(Decimal("1"))))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _money_label(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def column_chart(values: list[tuple[str, Decimal]], *, width: int = 640, height: int = 220, title: str = "") -> str:
    """Vertical bars with every label shown (e.g. 12 months); for the web dashboard and the PDF.

    Colours are attributes (WeasyPrint has no page CSS for them) and classes (the web page's CSS may
    restyle them). Exact numbers go in a table next to the chart; the tooltip repeats them.
    """
    if not values:
        return ""
    top = max((v for _, v in values), default=Decimal(0)) or Decimal(1)
    n = len(values)
    left, bottom, gap = 8, 34, 6
    bar_w = max((width - left - gap * n) / n, 1)
    chart_h = height - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="0" y1="{chart_h}" x2="{width}" y2="{chart_h}" stroke="#8c959f" stroke-width="1"/>',
    ]
    for i, (label, value) in enumerate(values):
        h = max(float(value / top) * (chart_h - 20), 0)
        x = left + i * (bar_w + gap)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{chart_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#0b5cad">'
            f"<title>{escape(label)}: {_money_label(value)}</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 14}" text-anchor="middle" font-size="12" '
            f'fill="#545d68">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    rows: list[tuple[str, Decimal, Decimal | None]],
    *,
    width: int = 640,
    title: str = "",
    bar_height: int = 22,
) -> str:
    """Horizontal bars with their labels, one per group (long names such as locations fit).

    ``rows`` are (label, value, previous value or None); a previous value is drawn as a thin bar
    under the main one so the comparison with the previous period is visible at a glance.
    """
    if not rows:
        return ""
    values = [v for _, v, _ in rows] + [p for _, _, p in rows if p is not None]
    top = max(values, default=Decimal(0)) or Decimal(1)
    label_w = min(220, width // 3)
    bar_area = width - label_w - 70
    row_h = bar_height + 10
    height = row_h * len(rows) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart hchart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
    ]
    for i, (label, value, previous) in enumerate(rows):
        y = 4 + i * row_h
        short = label if len(label) <= 30 else label[:29] + "…"
        w = max(float(value / top) * bar_area, 0) if value > 0 else 0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" font-size="12" '
            f'fill="#1b1f24">{escape(short)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height - 6}" fill="#0b5cad">'
            f"<title>{escape(label)}: {_money_label(value)}</title></rect>"
        )
        if previous is not None:
            pw = max(float(previous / top) * bar_area, 0) if previous > 0 else 0
            parts.append(
                f'<rect class="bar prev" x="{label_w}" y="{y + bar_height - 5}" width="{pw:.1f}" height="4" '
                f'fill="#6d9fd3"><title>{escape(label)}, previous period: {_money_label(previous)}</title></rect>'
            )
        parts.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height * 0.6:.1f}" font-size="11" '
            f'fill="#545d68">{_money_label(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
