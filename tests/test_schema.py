"""`fixar schema`: valid draft 2020-12 JSON Schema, generated from the dataclasses, that
accepts every example and rejects the schema-level entries of the bad corpus."""

import json

import jsonschema
import pytest
import yaml

from fixar_gen.cli import main
from fixar_gen.dsl.schema import spec_schema

from .conftest import EXAMPLES
from .test_bad_specs import FILES, expectation

SCHEMA = spec_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_draft_2020_12(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == SCHEMA
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate_against_the_schema(path):
    VALIDATOR.validate(yaml.safe_load(path.read_text()))


SCHEMA_LEVEL = [p for p in FILES if expectation(p)[1]]


def test_enough_schema_level_bad_specs():
    assert len(SCHEMA_LEVEL) >= 15


@pytest.mark.parametrize("path", SCHEMA_LEVEL, ids=lambda p: p.name)
def test_schema_rejects_schema_level_bad_specs(path):
    assert not VALIDATOR.is_valid(yaml.safe_load(path.read_text()))


def test_schema_mirrors_declared_bounds():
    hw = SCHEMA["properties"]["hardware"]["properties"]
    assert hw["cores"] == {"description": "number of AAP cores", "type": "integer",
                           "minimum": 1, "maximum": 64, "default": 2}
    assert hw["array"]["minItems"] == hw["array"]["maxItems"] == 2
    assert SCHEMA["properties"]["numerics"]["properties"]["rounding"]["enum"] == [
        "nearest_even", "nearest_up", "truncate"]
    assert SCHEMA["properties"]["hardware"]["additionalProperties"] is False


def test_schema_vector_lanes_is_an_integer_or_null():
    lanes = SCHEMA["properties"]["hardware"]["properties"]["vector_lanes"]
    for good in (None, 1, 12, 256):
        assert VALIDATOR.is_valid({"hardware": {"vector_lanes": good}}), good
    for bad in (0, 257, 1.5, "8"):
        assert not VALIDATOR.is_valid({"hardware": {"vector_lanes": bad}}), bad
    assert lanes["default"] is None
