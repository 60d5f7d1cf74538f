"""The dependency audit (portal/dependency_audit.py, ``manage.py audit_dependencies``).

pip-audit runs when a vulnerability service answers from the machine (PyPI's per-version JSON or OSV)
and is skipped with the reason otherwise; PyPI's project JSON, which does answer here, checks every pin
that is the latest release for known vulnerabilities and every pin for having been yanked.
"""

import pytest

from portal import dependency_audit as audit


def test_every_dependency_is_pinned_exactly_with_pip_audit_among_them():
    lines = [line.strip() for line in audit.CONSTRAINTS.read_text().splitlines() if line.strip()]
    pinned = audit.pins()
    # pip-audit --no-deps audits exactly these pins: every line must be name==version.
    assert len(pinned) == len(lines)
    assert "pip-audit" in pinned and "Django" in pinned


def _project(latest, vulnerabilities=(), releases=None):
    return {"info": {"version": latest}, "vulnerabilities": list(vulnerabilities), "releases": releases or {}}


def test_a_known_vulnerability_or_a_yanked_pin_fails_and_an_older_pin_is_named_unchecked():
    result = audit.ProjectCheck()
    audit.classify("clean", "1.0", _project("1.0", releases={"1.0": [{"yanked": False}]}), result)
    assert result.passed and result.checked == ["clean 1.0"]

    audit.classify("withdrawn", "2.0", _project("2.0", [{"id": "PYSEC-0", "withdrawn": "2026-01-01"}]), result)
    assert result.passed  # a withdrawn advisory is not a vulnerability

    audit.classify("vulnerable", "3.0", _project("3.0", [{"id": "GHSA-xxxx", "withdrawn": None}]), result)
    assert not result.passed and result.vulnerable == ["vulnerable 3.0: GHSA-xxxx"]

    result = audit.ProjectCheck()
    yanked = {"4.0": [{"yanked": True, "yanked_reason": "CVE-2026-1"}, {"yanked": True}]}
    audit.classify("withdrawn-release", "4.0", _project("4.1", releases=yanked), result)
    assert not result.passed and result.yanked == ["withdrawn-release 4.0: yanked (CVE-2026-1)"]
    assert result.not_checked == ["withdrawn-release 4.0 (latest 4.1)"]  # older than latest: not checked


@pytest.mark.slow
def test_pip_audit_finds_no_known_vulnerability_when_a_service_answers():
    pinned = audit.pins()
    service, why = audit.vulnerability_service(("Django", pinned["Django"]))
    if service is None:
        pytest.skip(f"pip-audit not run: no vulnerability service answers from this machine ({why})")
    code, output = audit.pip_audit(service)
    assert code == 0, output


@pytest.mark.slow
def test_pins_that_are_the_latest_release_have_no_known_vulnerability_and_none_is_yanked():
    why = audit.pypi_reachable()
    if why:
        pytest.skip(f"PyPI's project JSON: {why}")
    pinned = audit.pins()
    result = audit.project_check(pinned)
    assert not result.unreachable, result.unreachable
    assert not result.vulnerable, result.vulnerable
    assert not result.yanked, result.yanked
    assert len(result.checked) + len(result.not_checked) == len(pinned)
