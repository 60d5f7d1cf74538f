"""What the rest of the domain adds to a statement, without this package importing it.

Issuing a statement queues follow-up work, and its PDF shows a block of offers frozen with it. Both come
from ``billing.offers``, which prices with ``billing.rating`` and never needs statements; so that neither
package imports the other (tests/project/test_architecture.py), offers plug in here when the app is ready
(``billing/statement_offers.py``, called from ``billing/apps.py``), and this package only knows the shape
of the two hooks.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from billing.models import Statement

# Run inside the issuing transaction, once per statement issued; work that must wait for the commit is
# queued with transaction.on_commit (so a rolled-back issue queues nothing).
_after_issue: list[Callable[[Statement], None]] = []
# The offer block of a statement's PDF: a list of {"id", "title", "explanation"} (at most one source).
_pdf_offers: list[Callable[[Statement], list[dict]]] = []


def after_issue_register(hook: Callable[[Statement], None]) -> None:
    if hook not in _after_issue:
        _after_issue.append(hook)


def pdf_offers_register(source: Callable[[Statement], list[dict]]) -> None:
    _pdf_offers[:] = [source]


def statement_after_issue(statement: Statement) -> None:
    for hook in _after_issue:
        hook(statement)


def statement_pdf_offers(statement: Statement) -> list[dict]:
    # No silent default: a PDF rendered without the offers frozen for it would not be the issued statement.
    if not _pdf_offers:
        raise ImproperlyConfigured("no source of a statement's PDF offers is registered (billing/apps.py does)")
    return _pdf_offers[0](statement)
