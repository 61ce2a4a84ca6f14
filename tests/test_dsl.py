"""The two front ends give one result: YAML files and DSL fragments build equal specs,
fragments compose in order, bases chain, and DSL errors point at the Python call."""

import dataclasses
import importlib.util

import pytest
import yaml

from fixar_gen import SpecError, load_spec
from fixar_gen.dsl import (FRAGMENTS, QAT, U50, Actor, Array, Batch, Cores, Critic, Default,
                           Env, FromMapping, Fragment, Lanes, Set, Steps)
from fixar_gen.spec import Spec

from .conftest import EXAMPLES


def _custom_dsl():
    spec = importlib.util.spec_from_file_location("custom_dsl", EXAMPLES / "custom_dsl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["pendulum", "pendulum_td3", "halfcheetah", "hopper",
                                  "swimmer", "fixar_u50", "fixar_u50_fit"])
def test_yaml_and_dsl_forms_of_every_example_are_equal(name):
    from_yaml = load_spec(EXAMPLES / f"{name}.yaml")
    from_dsl = getattr(_custom_dsl(), name)().spec()
    assert from_yaml == from_dsl


def test_every_yaml_example_has_a_dsl_form():
    module = _custom_dsl()
    for path in EXAMPLES.glob("*.yaml"):
        assert hasattr(module, path.stem), f"examples/custom_dsl.py lacks {path.stem}()"


def test_custom_dsl_module_spec_is_the_documented_design():
    spec = load_spec(EXAMPLES / "custom_dsl.py")
    assert spec.name == "fixar_u50_4cores"
    assert spec.hardware.cores == 4 and spec.hardware.array == (16, 16)
    assert spec.numerics.qat_delay == 20_000 and spec.algorithm.batch_size == 256
    assert spec.target == "u50" and spec.numerics.quantizer == "affine"


def test_default_fragment_is_the_dataclass_defaults():
    assert Default().spec() == Spec()


def test_later_fragment_overrides_earlier():
    spec = (Default() + Cores(4) + Array(8, 8) + Cores(1)).spec()
    assert spec.hardware.cores == 1 and spec.hardware.array == (8, 8)
    # and the other order
    assert (Default() + Cores(1) + Cores(4)).spec().hardware.cores == 4


def test_fragments_merge_nested_fields_without_losing_siblings():
    spec = (Default() + Actor(32, 32, activation="tanh") + Actor(16)).spec()
    assert spec.networks.actor.hidden == (16,)
    assert spec.networks.actor.activation == "tanh"
    assert spec.networks.actor.output == "tanh"    # the actor's own default survives


def test_issue_example_composition():
    spec = (Default() + U50() + Cores(4) + Array(16, 16) + QAT(delay=20_000)
            + Actor(400, 300) + Critic(400, 300) + Steps(100_000)).spec()
    assert spec.target == "u50" and spec.hardware.clock_mhz == 164.0
    assert spec.networks.critic.layer_sizes == (4, 400, 300, 1)
    assert spec.numerics.precision == "qat" and spec.numerics.qat_delay == 20_000


def test_set_reaches_any_field_and_from_mapping_is_the_yaml_shape():
    a = (Default() + Set("algorithm.gamma", 0.98) + Set("hardware.memory.banks", 8)).spec()
    b = (Default() + FromMapping({"algorithm": {"gamma": 0.98},
                                  "hardware": {"memory": {"banks": 8}}})).spec()
    assert a == b and a.algorithm.gamma == 0.98 and a.hardware.memory.banks == 8


def test_dsl_error_points_at_the_calling_line():
    with pytest.raises(SpecError) as info:
        (Default() + Cores(0)).spec()  # the error must name this line
    err = info.value
    assert err.field == "hardware.cores"
    file, line, col = err.location.rsplit(":", 2)
    assert file.endswith("test_dsl.py")
    source = open(__file__).read().splitlines()[int(line) - 1]
    assert "Cores(0)" in source and source[int(col) - 1:].startswith("Cores(0)")
    assert "set by Cores(0)" in err.message


def test_dsl_unknown_field_via_set():
    with pytest.raises(SpecError, match=r"hardware\.corez: unknown field \(did you mean "
                                        r"'cores'\?"):
        (Default() + Set("hardware.corez", 2)).spec()


def test_yaml_fragments_and_dsl_fragments_are_the_same_objects(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("fragments: [U50, {Cores: 3}, {Array: [8, 4]}, {QAT: {delay: 10}},"
                    " {Actor: [32, 16]}, {Batch: 33}]\n")
    dsl = (Default() + U50() + Cores(3) + Array(8, 4) + QAT(delay=10) + Actor(32, 16)
           + Batch(33)).spec()
    assert load_spec(path) == dsl


def test_lanes_fragment_is_the_vector_lanes_field(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("fragments: [{Array: [8, 4]}, {Lanes: 3}]\n")
    dsl = (Default() + Array(8, 4) + Lanes(3)).spec()
    assert load_spec(path) == dsl == (Default() + Array(8, 4)
                                      + Set("hardware.vector_lanes", 3)).spec()
    assert dsl.hardware.vector_lanes == dsl.hardware.lanes == 3
    assert (Default() + Array(8, 4)).spec().hardware.lanes == 4    # null: the columns


def test_yaml_fields_override_its_fragments_and_base(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nhardware: {cores: 3, array: [2, 2]}\n")
    (tmp_path / "child.yaml").write_text(
        "base: base.yaml\nfragments: [{Cores: 5}]\nhardware: {array: [3, 3]}\n")
    spec = load_spec(tmp_path / "child.yaml")
    assert spec.name == "base"
    assert spec.hardware.cores == 5 and spec.hardware.array == (3, 3)


def test_load_spec_accepts_mappings_fragments_and_specs():
    mapping = {"hardware": {"cores": 3}, "fragments": ["U50"]}
    spec = load_spec(mapping)
    assert spec.hardware.cores == 3 and spec.target == "u50"
    assert load_spec(Default() + Cores(3) + U50()) == spec
    assert load_spec(spec) is spec


def test_every_fragment_is_documented_and_callable_from_yaml():
    for name, fn in FRAGMENTS.items():
        assert fn.__doc__, f"fragment {name} needs a docstring (docs/spec.md shows it)"


def test_show_output_round_trips(tmp_path):
    from fixar_gen.spec import spec_data
    for path in EXAMPLES.glob("*.yaml"):
        spec = load_spec(path)
        dumped = tmp_path / f"{path.stem}.yaml"
        dumped.write_text(yaml.safe_dump(spec_data(spec), sort_keys=False))
        assert load_spec(dumped) == spec


def test_spec_is_frozen_and_hashable():
    spec = Spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.target = "u50"
    assert hash(spec) == hash(Spec())


def test_env_fragment_derives_network_sizes():
    spec = (Default() + Env("HalfCheetah-v5")).spec()
    assert spec.networks.actor.layer_sizes == (17, 400, 300, 6)
    assert spec.networks.critic.layer_sizes == (23, 400, 300, 1)


def test_fragment_plus_non_fragment_is_a_type_error():
    with pytest.raises(TypeError):
        Default() + 3
    assert isinstance(Default() + Cores(2), Fragment)
