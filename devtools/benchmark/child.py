"""Re-running a measuring command (benchmark, soak) in a child process attached to its own database.

Such a command never measures the development data: the parent starts the same command again with
PORTAL_VAR_DIR pointing at its own folder (``var/<folder>``, or ``var/<folder>-quick`` for ``--quick`` so
that a quick run does not replace a full run's dataset) and either ``--database-url`` or an embedded
server in that folder, and the child, seeing ``flag`` in its environment, does the work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError


def is_child(flag: str) -> bool:
    return os.environ.get(flag) == "1"


def rerun_as_child(command: str, options: dict, *, flag: str, folder: str, passed: tuple[str, ...], drop=()) -> None:
    """Run ``manage.py <command>`` again with the ``passed`` options (and --quick), attached to its own
    database; raise CommandError when it fails. ``drop`` names more environment variables not to pass on."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", *drop}}
    env[flag] = "1"
    var_dir = Path(settings.BASE_DIR) / "var" / (f"{folder}-quick" if options.get("quick") else folder)
    env.setdefault("PORTAL_VAR_DIR", str(var_dir))
    if options.get("database_url"):
        env["DATABASE_URL"] = options["database_url"]
    else:
        env["PORTAL_PGDATA"] = str(var_dir / "pgdata")
    argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), command]
    for name in passed:
        if options.get(name) not in (None, ""):
            argv += [f"--{name.replace('_', '-')}", str(options[name])]
    if options.get("quick"):
        argv.append("--quick")
    code = subprocess.call(argv, env=env, cwd=settings.BASE_DIR)
    if code:
        raise CommandError(f"the {command} failed (exit code {code})")
