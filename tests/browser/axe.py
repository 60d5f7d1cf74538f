"""axe-core (Deque's accessibility engine, from npm) run inside a Playwright page.

The package is pinned by ``requirements/npm/package.json`` and its lock file (with the integrity hash)
and installed with ``npm ci`` into ``var/npm`` the first time a test needs it (``.ci/run`` does it up
front); nothing is loaded from a CDN. The script is evaluated through the DevTools protocol, so the
portal's Content-Security-Policy (no inline scripts) stays on while axe runs.

Use the ``axe`` fixture (tests/browser/conftest.py): ``axe(page)`` fails the test with every violation
(rule, impact, help and the offending elements); ``tests/browser/test_accessibility.py`` lists the main
pages it walks at desktop and phone widths: add a new page there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "requirements" / "npm"
PREFIX = ROOT / "var" / "npm"
SCRIPT = PREFIX / "node_modules" / "axe-core" / "axe.min.js"
# The rule sets checked: WCAG 2.0, 2.1 and 2.2 at levels A and AA, plus Deque's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def install() -> Path:
    """The pinned axe-core script, installed from npm into var/npm when it is not there yet."""
    lock = SPEC / "package-lock.json"
    stamp = PREFIX / "package-lock.json"
    if SCRIPT.exists() and stamp.exists() and stamp.read_bytes() == lock.read_bytes():
        return SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("axe-core needs npm to install (apt-get install npm)")
    PREFIX.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(SPEC / name, PREFIX / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(PREFIX)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return SCRIPT


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{v['helpUrl'].split('?')[0]}]")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


def run(page, source: str, *, exclude: list[str] | None = None) -> list[dict]:
    """axe's violations on the page as it is now (rules of ``TAGS``)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)  # Runtime.evaluate: not subject to the page's CSP
    result = page.evaluate(
        """([exclude, tags]) => axe.run(exclude.length ? {exclude: exclude.map((s) => [s])} : document,
                                        {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})""",
        [exclude or [], TAGS],
    )
    return result["violations"]
