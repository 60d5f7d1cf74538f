"""Valid query texts are parsed and validated once per process; invalid ones every time."""

from portal.api.core import view
from portal.api.core.view import VALID_DOCUMENTS, ValidDocuments

QUERY = "{ viewer { organization { name } } }"


def test_a_valid_query_is_validated_once_and_answers_the_same(acme, api, token_for, monkeypatch):
    VALID_DOCUMENTS.clear()
    calls = []
    real_validate = view.validate
    monkeypatch.setattr(view, "validate", lambda *a, **k: calls.append(1) or real_validate(*a, **k))
    client = api(token_for(acme))
    first, second = client.post(QUERY), client.post(QUERY)
    assert first[0] == second[0] == 200 and first[1]["data"] == second[1]["data"]
    assert first[1]["data"]["viewer"]["organization"]["name"] == "ACME GmbH"
    assert len(calls) == 1
    # An invalid text is never kept: it is validated (and refused with its code) every time.
    for _ in range(2):
        status, body = client.post("{ viewer { nosuchfield } }")
        assert status == 400 and body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert len(calls) == 3


def test_the_checks_before_validation_still_apply_to_a_known_query(acme, api, token_for, settings):
    VALID_DOCUMENTS.clear()
    client = api(token_for(acme))
    introspection = "{ __schema { queryType { name } } }"
    settings.GRAPHQL_INTROSPECTION = True
    assert client.post(introspection)[0] == 200  # valid: now known
    settings.GRAPHQL_INTROSPECTION = False
    status, body = client.post(introspection)
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    huge = "{ usageRecords(first: 100000) { edges { node { id } } } }"
    for _ in range(2):  # refused by the analysis each time, known or not
        status, body = client.post(huge)
        assert status == 400 and body["errors"][0]["extensions"]["code"] != "GRAPHQL_VALIDATION_FAILED"


def test_the_cache_keeps_the_most_recently_used_texts():
    cache = ValidDocuments(size=2)
    cache.add("a", 1)
    cache.add("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.add("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
