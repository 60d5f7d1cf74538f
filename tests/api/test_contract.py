"""The published contract in graphql/: the schema snapshot matches the code and every example runs."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.api.core.nodes import encode_id
from tests import factories

GRAPHQL_DIR = Path(__file__).resolve().parents[2] / "graphql"
EXAMPLES = sorted((GRAPHQL_DIR / "examples").glob("*.graphql"))


def test_schema_snapshot_matches_the_code(tmp_path):
    out = tmp_path / "schema.graphql"
    call_command("graphql_schema", schema="portal.api.schema.schema", out=str(out), verbosity=0)
    assert out.read_text() == (GRAPHQL_DIR / "schema.graphql").read_text(), (
        "graphql/schema.graphql is out of date: run "
        "`python manage.py graphql_schema --schema portal.api.schema.schema --out graphql/schema.graphql`"
    )


def test_graphql_folder_is_not_a_python_package():
    assert not list(GRAPHQL_DIR.rglob("*.py")), "a Python package named graphql would shadow graphql-core"


def test_every_type_and_field_is_described():
    from portal.api.schema import schema

    missing = []
    for name, type_ in schema.graphql_schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not type_.description:
            missing.append(name)
        for field_name, field in (getattr(type_, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert not missing, f"undescribed types/fields: {missing}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_operation_runs(path, acme, api, token_for):
    text = path.read_text()
    variables = json.loads(re.search(r"^# variables: (.*)$", text, re.M).group(1))
    variables = json.loads(
        json.dumps(variables).replace('"$LOCATION_ID"', json.dumps(encode_id("Location", acme.places["berlin"].id)))
    )
    statement = factories.issued_statement(acme)
    data = api(token_for(acme, role="analyst")).data(text, variables)
    assert data and all(value is not None for value in data.values())
    flat = json.dumps(data)
    assert any(needle in flat for needle in ("Berlin office", "Anna", "Ben", "4000", statement.number))
