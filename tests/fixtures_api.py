"""API test helpers: a client that speaks GraphQL with a bearer token, and token factories."""

import json

import pytest
from django.core.cache import cache

from portal.api.core.auth import token_create


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


class Api:
    def __init__(self, client, token=None):
        self.client = client
        self.token = token

    def post(self, query, variables=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        body = json.dumps({"query": query, "variables": variables or {}})
        response = self.client.post("/graphql/", body, content_type="application/json", **headers, **extra)
        return response.status_code, response.json()

    def data(self, query, variables=None):
        status, body = self.post(query, variables)
        assert status == 200 and "errors" not in body, body
        return body["data"]


@pytest.fixture
def token_for(make):
    def build(org, role="analyst", scopes=("usage:read", "statements:read", "offers"), **membership_kw):
        user = make.user()
        membership = make.membership(user, org, role=role, **membership_kw)
        _token, raw = token_create(membership=membership, name="test", scopes=list(scopes))
        return raw

    return build


@pytest.fixture
def api(client):
    return lambda token=None: Api(client, token)
