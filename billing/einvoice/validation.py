"""Validate an e-invoice offline by the official files: the XSD (lxml) and the compiled schematron rules
(Saxon-HE in a worker subprocess, see ``saxon_worker``).

The report lists every artefact that ran (title, version, package, SHA-256), how many of its patterns
were active against how many the file holds (all of them, or the validation fails: no phase or subset may
run in place of the full rule set), how many rules fired and asserts failed, and every finding. Fatal
findings (``flag`` fatal or error) and schema errors make the e-invoice invalid; warnings are kept.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from functools import cache
from pathlib import Path

from lxml import etree

from billing.einvoice.rules import ARTEFACTS, FORMAT_ARTEFACTS, NOT_RUN, artefact_path, rule_counts

SVRL = "{http://purl.oclc.org/dsdl/svrl}"
WORKER = Path(__file__).with_name("saxon_worker.py")
TIMEOUT = 120  # seconds for one rule file on one document (the first includes compiling it)
FATAL = {"fatal", "error"}


class ValidationUnavailable(RuntimeError):
    """The rules could not be run (worker crashed, timed out, a rule file missing or changed)."""


class _Worker:
    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = 0

    def _start(self) -> subprocess.Popen:
        # A forked process (a Celery pool child) must not share its parent's pipes: it starts its own worker.
        if self._proc is None or self._owner != os.getpid() or self._proc.poll() is not None:
            self._owner = os.getpid()
            self._proc = subprocess.Popen(
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        return self._proc

    def run(self, xslt: Path, xml: str) -> str:
        with self._lock:
            proc = self._start()
            try:
                proc.stdin.write(json.dumps({"xslt": str(xslt), "xml": xml}) + "\n")
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
                line = proc.stdout.readline() if ready else ""
            except (BrokenPipeError, OSError):
                line = ""
            if not line:
                self.stop()
                raise ValidationUnavailable(f"the schematron worker did not answer for {xslt.name}")
            answer = json.loads(line)
            if "error" in answer:
                raise ValidationUnavailable(f"{xslt.name}: {answer['error']}")
            return answer["svrl"]

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


worker = _Worker()


@cache
def _schema(key: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(artefact_path(key))))


def _xsd(key: str, doc) -> tuple[dict, list[dict]]:
    schema = _schema(key)
    ok = schema.validate(doc)
    errors = [
        {"artefact": key, "rule": "XSD", "flag": "fatal", "text": e.message, "location": f"line {e.line}"}
        for e in schema.error_log
    ]
    return {"valid": ok}, errors


def _schematron(key: str, xml: str) -> tuple[dict, list[dict]]:
    svrl = etree.fromstring(worker.run(artefact_path(key), xml).encode())
    counts = rule_counts(key)
    active = len(svrl.findall(f"{SVRL}active-pattern"))
    fired = len(svrl.findall(f"{SVRL}fired-rule"))
    findings = []
    for node in svrl.iter(f"{SVRL}failed-assert", f"{SVRL}successful-report"):
        text = (
            " ".join("".join(node.find(f"{SVRL}text").itertext()).split())
            if node.find(f"{SVRL}text") is not None
            else ""
        )
        findings.append(
            {
                "artefact": key,
                "rule": node.get("id") or "",
                "flag": (node.get("flag") or node.get("role") or "error").lower(),
                "text": text,
                "location": node.get("location") or "",
            }
        )
    summary = {
        "patterns_in_file": counts["patterns"],
        "patterns_active": active,
        "rules_in_file": counts["rules"],
        "rule_firings": fired,
        "asserts_in_file": counts["asserts"],
        "asserts_failed": len(svrl.findall(f"{SVRL}failed-assert")),
    }
    if active < counts["patterns"]:
        findings.append(
            {
                "artefact": key,
                "rule": "FULL-RULE-SET",
                "flag": "fatal",
                "text": f"only {active} of the {counts['patterns']} patterns of {ARTEFACTS[key].title} ran",
                "location": "",
            }
        )
    return summary, findings


def validate(xml: bytes, format: str) -> dict:
    """Run every artefact of ``format`` ("facturx", "xrechnung", "peppol" or "peppol-creditnote")."""
    started = time.perf_counter()
    doc = etree.fromstring(xml)
    text = xml.decode("utf-8")
    ran, findings = [], []
    for key in FORMAT_ARTEFACTS[format]:
        art = ARTEFACTS[key]
        t0 = time.perf_counter()
        summary, found = _xsd(key, doc) if art.kind == "xsd" else _schematron(key, text)
        ran.append(
            {
                "artefact": key,
                "title": art.title,
                "version": art.version,
                "package": art.package,
                "sha256": art.sha256,
                "kind": art.kind,
                "ms": round((time.perf_counter() - t0) * 1000),
                **summary,
            }
        )
        findings += found
    errors = [f for f in findings if f["flag"] in FATAL]
    return {
        "format": format,
        "valid": not errors,
        "ran": ran,
        "not_run": NOT_RUN.get(format.split("-")[0], []),
        "errors": errors,
        "warnings": [f for f in findings if f["flag"] not in FATAL],
        "ms": round((time.perf_counter() - started) * 1000),
    }


def failed_rules(report: dict) -> list[str]:
    """Each failed rule once, with how often it failed: 'BR-S-05 ×20 (cen-cii): [BR-S-05]-In an Invoice line…'."""
    seen: dict[tuple[str, str], list] = {}
    for e in report["errors"]:
        seen.setdefault((e["rule"], e["artefact"]), [0, e["text"]])[0] += 1
    return [
        f"{rule}{f' ×{count}' if count > 1 else ''} ({artefact}): {text}"
        for (rule, artefact), (count, text) in seen.items()
    ]
