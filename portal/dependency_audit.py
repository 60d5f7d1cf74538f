"""Known vulnerabilities in the pinned dependencies (requirements/constraints.txt).

Two checks, each saying what it could and could not see:

1. **pip-audit** against the pins (``--strict --no-deps``), with whichever vulnerability service answers:
   PyPI's per-version JSON (``/pypi/<name>/<version>/json``) or OSV (``api.osv.dev``). When neither
   answers it is not run at all: pip-audit's PyPI service takes a 404 for "not on PyPI" and, without
   ``--strict``, reports a clean audit that audited nothing.
2. **PyPI's project JSON** (``/pypi/<name>/json``), which answers where the per-version JSON does not.
   It lists the known vulnerabilities of the *latest* release only, and every release with its yanked
   flag. So: a pin that is the latest release is checked for known vulnerabilities (any one fails); every
   pin is checked for having been yanked (often a security or breakage withdrawal); a pin older than the
   latest is named as *not checked for vulnerabilities*.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parent.parent / "requirements" / "constraints.txt"
PYPI = "https://pypi.org/pypi"
OSV = "https://api.osv.dev/v1/query"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        found = PIN.match(line.strip())
        if found:
            out[found.group(1)] = found.group(2)
    return out


def _get(url: str, timeout: float, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - fixed https URLs
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "portal-dependency-audit"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def vulnerability_service(sample: tuple[str, str], timeout: float = 10) -> tuple[str | None, str]:
    """The pip-audit service that answers from here ("pypi" or "osv"), or None and why not."""
    name, version = sample
    why = []
    try:
        status, _ = _get(f"{PYPI}/{name}/{version}/json", timeout)
        if status == 200:
            return "pypi", ""
        why.append(f"PyPI's per-version JSON answers HTTP {status} for {name} {version}")
    except OSError as exc:
        why.append(f"PyPI's per-version JSON is unreachable ({exc})")
    try:
        query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
        status, _ = _get(OSV, timeout, query)
        if status == 200:
            return "osv", ""
        why.append(f"OSV answers HTTP {status}")
    except OSError as exc:
        why.append(f"OSV is unreachable ({exc})")
    return None, "; ".join(why)


def pip_audit(service: str, path: Path = CONSTRAINTS) -> tuple[int, str]:
    """Run pip-audit on the pins; (exit code, output). Exit 0 only when every pin was audited and is clean."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--strict",  # a pin the service does not know fails the audit instead of being skipped
            "--disable-pip",
            "--no-deps",
            "--requirement",
            str(path),
            "--vulnerability-service",
            service,
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@dataclass
class ProjectCheck:
    vulnerable: list[str] = field(default_factory=list)  # "name version: ids"
    yanked: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # latest releases checked for vulnerabilities
    not_checked: list[str] = field(default_factory=list)  # "name pin (latest x)"
    unreachable: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (self.vulnerable or self.yanked or self.unreachable)


def classify(name: str, version: str, project: dict, result: ProjectCheck) -> None:
    """What PyPI's project JSON says about one pin."""
    latest = project.get("info", {}).get("version")
    files = project.get("releases", {}).get(version)
    if files and all(f.get("yanked") for f in files):
        reason = next((f.get("yanked_reason") for f in files if f.get("yanked_reason")), "") or "no reason given"
        result.yanked.append(f"{name} {version}: yanked ({reason})")
    if version == latest:
        known = [v for v in project.get("vulnerabilities") or [] if not v.get("withdrawn")]
        result.checked.append(f"{name} {version}")
        if known:
            ids = ", ".join(sorted(v.get("id", "?") for v in known))
            result.vulnerable.append(f"{name} {version}: {ids}")
    else:
        result.not_checked.append(f"{name} {version} (latest {latest})")


def project_check(pinned: dict[str, str], timeout: float = 20) -> ProjectCheck:
    result = ProjectCheck()

    def fetch(item):
        name, version = item
        problem = ""
        for _attempt in range(2):  # once more after a network hiccup
            try:
                status, body = _get(f"{PYPI}/{name}/json", timeout)
            except OSError as exc:
                problem = str(exc)
                continue
            if status == 200:
                return name, version, json.loads(body), ""
            problem = f"HTTP {status}"
        return name, version, None, problem

    with ThreadPoolExecutor(max_workers=6) as pool:
        for name, version, project, problem in pool.map(fetch, sorted(pinned.items())):
            if project is None:
                result.unreachable.append(f"{name} {version}: {problem}")
            else:
                classify(name, version, project, result)
    return result


def pypi_reachable(timeout: float = 10) -> str:
    """'' when PyPI's project JSON answers, else why not."""
    try:
        status, _ = _get(f"{PYPI}/pip/json", timeout)
    except OSError as exc:
        return f"PyPI is unreachable ({exc})"
    return "" if status == 200 else f"PyPI's project JSON answers HTTP {status}"
