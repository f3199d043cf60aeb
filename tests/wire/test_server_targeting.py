"""Targeting: which resources a targeted tracepoint is served to (see ``confighub.server``)."""

from __future__ import annotations

from typing import Any

import pytest
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.resource.v1 import resource_pb2

from confighub import TracePoint
from confighub.server._targeting import matches, resource_attributes


def targeting(**values: Any) -> Any:
    """The normalized targeting map, as a TracePoint holds it."""
    return TracePoint("t", "t.py", 1, targeting=values).targeting


@pytest.mark.parametrize(
    ("wanted", "attributes", "expected"),
    [
        ({}, {}, True),
        ({"env": "prod"}, {"env": "prod", "region": "eu"}, True),
        ({"env": "prod"}, {"env": "dev"}, False),
        ({"env": "prod"}, {}, False),
        ({"env": "prod", "region": "eu"}, {"env": "prod"}, False),
        ({"env": ["dev", "prod"]}, {"env": "prod"}, True),
        ({"env": ["dev", "test"]}, {"env": "prod"}, False),
        ({"env": []}, {"env": "prod"}, False),
        ({"version": 2}, {"version": "2"}, False),
        ({"version": 2}, {"version": 2.0}, True),
        ({"canary": True}, {"canary": 1}, False),
        ({"canary": True}, {"canary": True}, True),
        ({"zones": "a"}, {"zones": ("a", "b")}, True),
        ({"zones": ["c", "b"]}, {"zones": ("a", "b")}, True),
        ({"zones": "c"}, {"zones": ("a", "b")}, False),
        ({"zones": "a"}, {"zones": ()}, False),
        ({"host": {"os": "linux"}}, {"host": {"os": "linux", "arch": "arm"}}, True),
        ({"host": {"os": "linux"}}, {"host": {"os": "mac"}}, False),
        ({"host": {"os": "linux"}}, {"host": "linux"}, False),
        ({"host": [{"os": "mac"}, {"os": "linux"}]}, {"host": {"os": "linux"}}, True),
    ],
)
def test_match_rules(wanted: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    """Scalars by kind and value, lists as any-of, mappings key by key, arrays by any item."""
    assert matches(targeting(**wanted), attributes) is expected


def test_resource_attributes_decode_every_any_value_case() -> None:
    """Scalars, arrays and key-value lists decode; an empty AnyValue equals nothing."""
    any_value = common_pb2.AnyValue
    resource = resource_pb2.Resource(
        attributes=[
            common_pb2.KeyValue(key="name", value=any_value(string_value="shop")),
            common_pb2.KeyValue(key="port", value=any_value(int_value=8080)),
            common_pb2.KeyValue(
                key="zones",
                value=any_value(
                    array_value=common_pb2.ArrayValue(values=[any_value(bool_value=True)])
                ),
            ),
            common_pb2.KeyValue(
                key="host",
                value=any_value(
                    kvlist_value=common_pb2.KeyValueList(
                        values=[common_pb2.KeyValue(key="cpu", value=any_value(double_value=1.5))]
                    )
                ),
            ),
            common_pb2.KeyValue(key="unset", value=any_value()),
        ]
    )
    attributes = resource_attributes(resource)
    assert {key: attributes[key] for key in ("name", "port", "zones", "host")} == {
        "name": "shop",
        "port": 8080,
        "zones": (True,),
        "host": {"cpu": 1.5},
    }
    assert matches(targeting(host={"cpu": 1.5}, zones=True), attributes)
    assert not matches(targeting(unset=""), attributes)
