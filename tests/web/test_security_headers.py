"""Browser-facing security: CSP without inline scripts, no framing, and templates that keep to it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(p for p in (ROOT / "portal").rglob("templates/**/*.html")) + sorted(
    p for p in (ROOT / "billing").rglob("templates/**/*.html") if "/statements/" not in str(p)
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def test_pages_carry_a_strict_content_security_policy(client, db):
    response = client.get("/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_portal_templates_have_no_inline_script_or_style(template):
    # The statement PDF templates are exempt: WeasyPrint renders them, no browser and no CSP.
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to static/js"
    assert not INLINE_HANDLER.search(text), "inline event handler: use static/js"
    assert not INLINE_STYLE.search(text), "inline style: use a class in static/css/portal.css"
