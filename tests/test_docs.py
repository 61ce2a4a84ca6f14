"""Generated documentation is up to date."""

from fixar_gen.dsl.reference import spec_reference

from .conftest import ROOT


def test_spec_reference_is_current():
    committed = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert committed == spec_reference(), (
        "docs/spec.md is stale: run `python -m fixar_gen.dsl.reference docs/spec.md`")


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```sh") + 1:lines.index("```sh") + 3]
    assert "pip install -e" in block[0] and "fixar" in block[0]
    assert "pytest" in block[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in ci and block[1].endswith("python -m pytest -q")


def test_isa_reference_is_current():
    from fixar_gen.isa import reference
    committed = (ROOT / "docs" / "isa.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/isa.md is stale: run `python -m fixar_gen.isa docs/isa.md`")


def test_hardware_operations_table_is_current():
    from fixar_gen.hw.op_table import update
    committed = (ROOT / "docs" / "hardware.md").read_text(encoding="utf-8")
    assert committed == update(committed), (
        "docs/hardware.md's operations table is stale: run "
        "`python -m fixar_gen.hw.op_table docs/hardware.md`")
