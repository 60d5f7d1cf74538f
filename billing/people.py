"""People as customers read them: two persons of the same name told apart (statements, explorer, exports)."""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext as _


def person_labels(persons: dict[int, str], employee_numbers: dict[int, str], lines_of: dict[int, list[str]]) -> dict:
    """Person names, told apart where two share a name: by employee number, or else by their lines."""
    by_name: dict[str, list[int]] = defaultdict(list)
    for pid, name in persons.items():
        by_name[name.strip().casefold()].append(pid)
    labels = dict(persons)
    for ids in by_name.values():
        if len(ids) < 2:
            continue
        numbers = [employee_numbers.get(pid, "") for pid in ids]
        for pid, number in zip(ids, numbers, strict=True):
            if number and numbers.count(number) == 1:
                labels[pid] = _("%(name)s (employee no. %(number)s)") % {"name": persons[pid], "number": number}
            elif lines_of.get(pid):
                labels[pid] = _("%(name)s (line %(number)s)") % {
                    "name": persons[pid],
                    "number": ", ".join(lines_of[pid]),
                }
    return labels
