"""``manage.py audit_dependencies``: known vulnerabilities in requirements/constraints.txt (see
portal/dependency_audit.py for what is and is not checked). Exits non-zero on any finding."""

from django.core.management.base import BaseCommand, CommandError

from portal import dependency_audit as audit


class Command(BaseCommand):
    help = "Audit the pinned dependencies: pip-audit when a vulnerability service answers, PyPI's project JSON."

    def handle(self, *args, **options):
        pinned = audit.pins()
        log = self.stdout.write
        problems = []
        service, why = audit.vulnerability_service(("Django", pinned["Django"]))
        if service:
            code, output = audit.pip_audit(service)
            log(f"pip-audit ({service}) on {len(pinned)} pins: exit {code}\n{output.strip()}")
            if code:
                problems.append("pip-audit found vulnerable or unaudited pins")
        else:
            log(f"pip-audit: NOT RUN, no vulnerability service answers from here: {why}")
        unreachable = audit.pypi_reachable()
        if unreachable:
            raise CommandError(f"PyPI's project JSON: {unreachable}")
        result = audit.project_check(pinned)
        log(
            f"PyPI project JSON: {len(result.checked)} of {len(pinned)} pins are the latest release and were "
            f"checked for known vulnerabilities: {len(result.vulnerable)} vulnerable"
        )
        for line in result.vulnerable:
            log(f"  VULNERABLE {line}")
        log(f"Yanked pins: {len(result.yanked)}")
        for line in result.yanked:
            log(f"  YANKED {line}")
        for line in result.unreachable:
            log(f"  NOT FETCHED {line}")
        log(f"Not checked for vulnerabilities (older than the latest release): {len(result.not_checked)}")
        for line in result.not_checked:
            log(f"  {line}")
        if not result.passed:
            problems.append("PyPI's project JSON found vulnerable, yanked or unfetched pins")
        if problems:
            raise CommandError("; ".join(problems))
