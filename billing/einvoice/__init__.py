"""EN 16931 e-invoices of statements: the business terms of a statement (``terms``), written as UN/CEFACT
CII D16B (``cii``: Factur-X/ZUGFeRD and XRechnung) or UBL 2.1 (``ubl``: Peppol BIS Billing 3.0), checked by
the official XSD and schematron rule files (``validation``), embedded in the PDF as Factur-X (``facturx``)
and issued with the statement (``services``)."""
