"""Factur-X / ZUGFeRD: the CII invoice inside the statement PDF (PDF/A-3b, an associated file with its
AFRelationship, and the Factur-X XMP properties with the PDF/A extension schema that declares them).

WeasyPrint writes the PDF/A-3b file, the embedded file and the AF entries; this module gives it the
attachment and the XMP packet. The schema description follows the Factur-X 1.0 specification (its
namespace ``urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#``, prefix ``fx``, four text properties)."""

from __future__ import annotations

import io

FX_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"

# File name and conformance level the Factur-X / ZUGFeRD 2.x specification gives each profile.
PROFILE = {
    "facturx": ("factur-x.xml", "EN 16931"),
    "xrechnung": ("xrechnung.xml", "XRECHNUNG"),
}
# The XML is the invoice itself and the PDF its human-readable rendition: "Alternative" (what Germany's
# ZUGFeRD guidance asks for EN 16931 and above; accepted in France).
RELATIONSHIP = "Alternative"

_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML invoice file"),
    ("DocumentType", "INVOICE"),
    ("Version", "The version of the Factur-X XML schema"),
    ("ConformanceLevel", "The conformance level (profile) of the embedded XML"),
)


def xmp_packet(format: str, document_type: str = "INVOICE") -> bytes:
    filename, level = PROFILE[format]
    properties = "".join(
        "<rdf:li rdf:parseType='Resource'>"
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _PROPERTIES
    )
    return (
        "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        f"<rdf:Description rdf:about='' xmlns:fx='{FX_NS}'>"
        f"<fx:DocumentType>{document_type}</fx:DocumentType>"
        f"<fx:DocumentFileName>{filename}</fx:DocumentFileName>"
        "<fx:Version>1.0</fx:Version>"
        f"<fx:ConformanceLevel>{level}</fx:ConformanceLevel>"
        "</rdf:Description>"
        "<rdf:Description rdf:about='' xmlns:pdfaExtension='http://www.aiim.org/pdfa/ns/extension/' "
        "xmlns:pdfaSchema='http://www.aiim.org/pdfa/ns/schema#' xmlns:pdfaProperty='http://www.aiim.org/pdfa/ns/property#'>"
        "<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType='Resource'>"
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{FX_NS}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas>"
        "</rdf:Description>"
        "</rdf:RDF>"
    ).encode()


def pdf_options(einvoice) -> dict:
    """WeasyPrint ``write_pdf`` options that make the statement PDF a PDF/A-3b carrying its e-invoice."""
    from weasyprint import Attachment

    when = einvoice.statement.issued_at
    if einvoice.format in PROFILE:
        filename, _level = PROFILE[einvoice.format]
        options = {"xmp_metadata": [io.BytesIO(xmp_packet(einvoice.format))]}
        description = "EN 16931 invoice (UN/CEFACT CII D16B)"
    else:  # Peppol: the UBL invoice travels by Peppol; the PDF carries a copy, without Factur-X metadata
        filename, options, description = "peppol-ubl.xml", {}, "EN 16931 invoice (UBL 2.1, Peppol BIS Billing 3.0)"
    attachment = Attachment(
        string=einvoice.xml,
        name=filename,
        description=description,
        created=when,
        modified=when,
        relationship=RELATIONSHIP,
    )
    return {"pdf_variant": "pdf/a-3b", "attachments": [attachment], **options}
