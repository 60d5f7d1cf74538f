"""Offers on statements: the one module that knows both ``billing.statements`` and ``billing.offers``.

Issuing a statement queues the computation of its offers (after the commit, before its PDF is queued),
and the PDF shows the offers frozen for the statement. Registered into the statements package's hooks
(``billing/statements/hooks.py``) when the app is ready, so neither package imports the other.
"""

from __future__ import annotations

from django.db import transaction

from billing.models import Statement
from billing.offers.selectors import statement_pdf_offers
from billing.offers.services import statement_offers_freeze
from billing.offers.tasks import compute_statement_offers
from billing.statements import hooks


def statement_offers_queue(statement: Statement) -> None:
    transaction.on_commit(lambda pk=statement.pk: compute_statement_offers.delay(pk))


def statement_offers_for_pdf(statement: Statement) -> list[dict]:
    """Why frozen, and why no new template for it: the v1 template already carries an ``{% if offers %}``
    block that renders nothing without offers, and what an issued statement shows must depend only on data
    frozen with it. So the offers are frozen per statement (an OfferRun tied to it, computed once, never
    recomputed): statements issued before offers existed were frozen with no offers by migration 0009 and
    re-render byte for byte; newer ones show exactly the offers frozen for them, on every re-render. A
    render that runs before the queued computation freezes them itself; either way they are computed once.
    """
    statement_offers_freeze(statement=statement)  # no-op when already frozen
    return statement_pdf_offers(statement=statement)


def register() -> None:
    hooks.after_issue_register(statement_offers_queue)
    hooks.pdf_offers_register(statement_offers_for_pdf)
