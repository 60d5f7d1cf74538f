"""Money, numbers and dates formatted for an organization's locale (Babel's CLDR data)."""

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal


def locale_of(organization) -> str:
    return (organization.locale or "en-US").replace("-", "_")


class Formatter:
    def __init__(self, organization, language: str | None = None):
        """Formats for the organization's locale; given the ``language`` a statement is written in, for
        that language: the locale when it is of that language (de-AT stays Austrian), else the language
        itself, so an English statement of a customer in Spain has English dates and numbers."""
        self.locale = locale_of(organization)
        if language and self.locale.split("_")[0].lower() != language:
            self.locale = language
        self.currency = organization.currency

    def money(self, amount: Decimal) -> str:
        return format_currency(amount, self.currency, locale=self.locale)

    def number(self, value, places: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def date(self, value: date, style: str = "medium") -> str:
        return format_date(value, format=style, locale=self.locale)
