"""Every node type of the schema: another organization's ids answer exactly like ids that never existed."""

from datetime import date
from decimal import Decimal

from billing.models import UsageRecord
from billing.statements.payments import payment_record
from portal.api.core.nodes import encode_id
from portal.api.schema import schema
from tests import factories

NODE_QUERY = "query ($id: ID!) { node(id: $id) { id __typename } }"


def node_types() -> set[str]:
    return {
        name
        for name, type_ in schema.graphql_schema.type_map.items()
        if any(i.name == "Node" for i in getattr(type_, "interfaces", []) or [])
    }


def test_every_node_type_is_isolated(acme, api, token_for, make):
    statement = factories.issued_statement(acme)
    samples = {
        "Location": acme.places["berlin"].pk,
        "Person": acme.people["anna"].pk,
        "Line": acme.line_objs["anna"].pk,
        "UsageRecord": UsageRecord.objects.filter(organization=acme).first().pk,
        "Statement": statement.pk,
        "Payment": payment_record(
            organization=acme, received_on=date(2026, 11, 20), amount=Decimal("10.00"), currency=acme.currency
        ).pk,
    }
    assert node_types() == set(samples), "a new node type needs an isolation sample here"
    insider = api(token_for(acme, role="admin"))
    outsider = api(token_for(make.organization(), role="admin"))
    for type_name, pk in sorted(samples.items()):
        gid = encode_id(type_name, pk)
        assert insider.data(NODE_QUERY, {"id": gid})["node"] == {"id": gid, "__typename": type_name}
        foreign = outsider.post(NODE_QUERY, {"id": gid})
        missing = outsider.post(NODE_QUERY, {"id": encode_id(type_name, 10**12)})
        for status, body in (foreign, missing):  # same answer (only the rate budget moves)
            assert (status, body["data"], body.get("errors")) == (200, {"node": None}, None), type_name
