"""The portal is an installable package: its wheel holds the product (with templates, static files,
migrations and translations) and nothing else, and an installed copy passes ``manage.py check``.

Also: importing the settings starts no database server (the entry points do), and every third-party module
the product imports is declared in pyproject.toml.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("billing", "portal")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def test_every_third_party_module_the_product_imports_is_declared():
    distributions = importlib.metadata.packages_distributions()
    imported = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    imported.add(node.module.split(".")[0])
    third_party = sorted(m for m in imported if m not in sys.stdlib_module_names and m not in (*PRODUCT, "__future__"))
    assert {"django", "psutil", "weasyprint"} <= set(third_party)
    missing = {
        module: distributions.get(module)
        for module in third_party
        if not {d.lower() for d in distributions.get(module, [module])} & _declared()
    }
    assert not missing, f"imported but not declared in [project] dependencies: {missing}"


def test_importing_the_settings_starts_no_database_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PORTAL_ENV"}}
    env.update(PORTAL_PGDATA=str(tmp_path / "pgdata"), DJANGO_SETTINGS_MODULE="portal.settings")
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.DATABASES"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "the embedded PostgreSQL was not started" in result.stderr, result.stderr
    assert not (tmp_path / "pgdata").exists()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # The build backend (setuptools) comes from the package index or pip's cache, as for any `pip install .`.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_product_with_its_files_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"billing", "portal"}  # no devtools, tests or the graphql/ contract folder
    for expected in [
        "billing/migrations/0001_warehouse.py",
        "billing/migrations/0012_audit_log_in_domain.py",
        "portal/migrations/0007_audit_log_to_billing.py",
        "billing/templates/billing/statements/v1/statement.html",
        "billing/templates/billing/statements/v2/statement.html",
        "portal/templates/portal/dashboard.html",
        "portal/templates/registration/reset_confirm.html",
        "portal/static/css/portal.css",
        "billing/locale/de/LC_MESSAGES/django.po",
        "billing/locale/de/LC_MESSAGES/django.mo",
    ]:
        assert expected in names, expected
    for folder in ("billing/templates", "portal/templates", "portal/static", "billing/locale"):
        on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert on_disk <= names, sorted(on_disk - names)[:5]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "billing-portal = portal.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_an_installed_portal_passes_manage_py_check(wheel, tmp_path):
    """A fresh venv with the wheel installed; the dependencies come from this environment (a .pth file), so
    the test needs no network for them. It runs outside the checkout, so nothing is imported from here."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "dependencies_from_the_test_environment.pth").write_text("\n".join(here) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "PORTAL_ENV"}}
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [str(target / "bin" / "billing-portal"), "check"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    where = subprocess.run(
        [str(python), "-c", "import portal, billing; print(portal.__file__, billing.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert str(ROOT) not in where and site in where, where
