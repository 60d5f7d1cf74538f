"""Cost centres, allocation rules, chargeback and its journal (CSV, DATEV)."""
