"""The server-drawn time series SVG: stacked columns or lines, value axis, legend, localised labels; the same
SVG renders in a PDF (WeasyPrint) with its text in it."""

import subprocess
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own SVG
from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.charts.timeseries import ChartSeries, bucket_label, nice_ticks, timeseries_svg

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]


def chart(locale="de_DE", stacked=True, currency="EUR"):
    series = [
        ChartSeries("Berlin office", [Decimal(100 + i) for i in range(30)]),
        ChartSeries("Köln", [Decimal(i % 3) * 50 for i in range(30)]),
        ChartSeries("Others", [Decimal(5)] * 30, is_others=True),
    ]
    labels = [bucket_label(d, "day", locale) for d in DAYS]
    return ET.fromstring(  # noqa: S314 - our own SVG
        timeseries_svg(labels=labels, series=series, stacked=stacked, locale=locale, currency=currency, title="Cost")
    )


def texts(root, cls):
    return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == cls]


def test_stacked_columns_with_axis_legend_and_german_labels():
    root = chart()
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "segment"]
    assert len(bars) == 30 + 20 + 30  # Köln is 0 on every third day: no empty rectangle
    assert texts(root, "legend") == ["Berlin office", "Köln", "Others"]
    assert texts(root, "tick") == ["0\xa0€", "100\xa0€", "200\xa0€", "300\xa0€"]  # 234 at most, stacked
    assert texts(root, "xlabel")[0] == "1. Nov."
    assert "30. Nov. · Berlin office: 129,00\xa0€" in [t.text for t in root.iter(f"{SVG}title")]
    others = [r for r in bars if "Others" in r.find(f"{SVG}title").text]
    assert {r.get("fill") for r in others} == {"#9aa0a6"}


def test_lines_in_english_and_french():
    root = chart(locale="en_US", stacked=False)
    assert len(list(root.iter(f"{SVG}polyline"))) == 3
    assert texts(root, "xlabel")[0] == "Nov 1" and texts(root, "tick")[-1] == "€150"
    assert bucket_label(date(2026, 2, 1), "month", "fr_FR") == "févr. 2026"
    assert bucket_label(14, "hour", "nl_NL") == "14:00" and bucket_label(14, "hour", "en_US") == "2:00\u202fPM"


def test_nice_ticks_and_mismatched_series():
    assert nice_ticks(Decimal("1234.5")) == [0, 500, 1000, 1500]
    assert nice_ticks(Decimal("0.7")) == [0, Decimal("0.2"), Decimal("0.4"), Decimal("0.6"), Decimal("0.8")]
    with pytest.raises(ValueError):
        timeseries_svg(labels=["a"], series=[ChartSeries("x", [])], stacked=True, locale="en_US")


def test_the_same_svg_renders_in_a_pdf(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    svg = ET.tostring(chart(), encoding="unicode")
    pdf = tmp_path / "chart.pdf"
    weasyprint.HTML(string=f"<html><body>{svg}</body></html>").write_pdf(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Köln" in text and "1. Nov." in text and "200" in text
