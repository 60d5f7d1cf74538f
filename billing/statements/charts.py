"""Small server-side SVG charts, shared by the web pages and the PDF (no JavaScript needed)."""

from decimal import Decimal
from xml.sax.saxutils import escape


def bar_chart(values: list[tuple[str, Decimal]], *, width: int = 520, height: int = 120, title: str = "") -> str:
    """A bar chart as an SVG string; ``values`` are (label, amount). Labels of every 7th bar are shown."""
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
        parts.append(
            f'<rect x="{x:.1f}" y="{chart_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="#0b5cad">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % 7 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="9" fill="#57606a">{escape(label)}</text>')
    parts.append(f'<text x="0" y="10" font-size="9" fill="#57606a">{escape(str(top.quantize(Decimal("1"))))}</text>')
    parts.append("</svg>")
    return "".join(parts)
