"""What personalization uses, in words the web portal shows next to the consent setting and the offers
(translated: the page's language; the API answers in English)."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

PRIVACY_TITLE = _("How we pick offers for you")

PRIVACY_TEXT = format_lazy(
    "{}\n\n{}\n\n{}",
    _(
        "When personalization is on, we look at your organization's usage of the last three billing periods, as it "
        "appears on your statements: call minutes by destination category (local, national, mobile, international "
        "by zone and country), by location and by person; text messages and data volume; how much you paid beyond "
        "your plan's included minutes; how your usage changed from month to month; and how many lines were added "
        "or switched off. We re-price that usage under our other plans and packs, and show you an offer only when "
        "it would have cost you less, with the numbers it is based on."
    ),
    _(
        "We do not use the numbers you called, the content of calls or messages, or any data from outside your "
        "account. The profile is computed on our own systems, is visible only to your organization's "
        "administrators and analysts and to our account staff, and never leaves the provider: it is not sold, "
        "shared or sent to third parties."
    ),
    _(
        "When personalization is off, we build no profile from your usage: you only see offers we make to every "
        "customer. Your administrators can switch it on or off at any time; we record who changed it and when. "
        "Accepting an offer only sends a request to our staff; nothing about your billing changes until they "
        "confirm it with you."
    ),
)
