from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def test_create_api_token_prints_a_working_token_once(acme, make, api):
    user = make.user("integration")
    make.membership(user, acme, role="analyst")
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "integration", "--scope", "usage:read", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("bp_") and "shown once" in err.getvalue()
    assert api(raw).data("{ viewer { role tokenScopes } }")["viewer"] == {
        "role": "ANALYST",
        "tokenScopes": ["USAGE_READ"],
    }


def test_create_api_token_errors(acme, make):
    with pytest.raises(CommandError, match="no membership for user 'ghost'"):
        call_command("create_api_token", "ghost")
    user = make.user("multi")
    make.membership(user, acme)
    make.membership(user, make.organization())
    with pytest.raises(CommandError, match="several organizations"):
        call_command("create_api_token", "multi")
