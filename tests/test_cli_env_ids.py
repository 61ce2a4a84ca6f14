"""A spec names registered gymnasium environments only: a module-qualified id
(``module:Env-v0``, which makes gymnasium import and run that module) is refused with a
located error unless the command is given --allow-env-module; a spec alone can never
cause code to be imported."""

import subprocess
import sys
import textwrap

import pytest

from fixar_gen import load_spec
from fixar_gen.envs import allow_env_modules
from fixar_gen.params import SpecError

MODULE = textwrap.dedent("""\
    # imported only if fixar_gen lets gymnasium import a spec's module
    import pathlib
    import gymnasium
    pathlib.Path(__file__).with_name("IMPORTED").write_text("code ran")
    gymnasium.register("Evil-v0", entry_point="gymnasium.envs.classic_control:PendulumEnv",
                       max_episode_steps=200)
    """)


def spec_text(env_id: str, sizes: bool) -> str:
    actor = "{hidden: [8], inputs: 3, outputs: 1}" if sizes else "{hidden: [8]}"
    return textwrap.dedent(f"""\
        name: evil
        env:
          id: "{env_id}"
        networks: {{actor: {actor}, critic: {{hidden: [8]}}}}
        """)


def fixar(cwd, *argv):
    # `python -m fixar_gen` puts the working directory on sys.path: the module would be
    # importable from there
    return subprocess.run([sys.executable, "-m", "fixar_gen", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("sizes", [True, False], ids=["sizes given", "sizes from env"])
@pytest.mark.parametrize("command", [["validate"], ["show"], ["estimate"],
                                     ["train", "--steps", "300", "--quiet"]])
def test_module_qualified_id_is_refused_without_the_option(tmp_path, command, sizes):
    (tmp_path / "evilmod.py").write_text(MODULE)
    (tmp_path / "spec.yaml").write_text(spec_text("evilmod:Evil-v0", sizes))
    proc = fixar(tmp_path, command[0], "spec.yaml", *command[1:])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("spec.yaml:3:7: env.id: 'evilmod:Evil-v0' is "
                                  "module-qualified"), proc.stderr
    assert "--allow-env-module" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "IMPORTED").exists()


def test_the_option_allows_it(tmp_path):
    (tmp_path / "evilmod.py").write_text(MODULE)
    (tmp_path / "spec.yaml").write_text(spec_text("evilmod:Evil-v0", sizes=False))
    proc = fixar(tmp_path, "validate", "spec.yaml", "--allow-env-module")
    assert proc.returncode == 0, proc.stderr
    assert "actor 3-8-1" in proc.stdout
    assert (tmp_path / "IMPORTED").read_text() == "code ran"


def test_unregistered_id_is_a_located_error(tmp_path):
    (tmp_path / "spec.yaml").write_text(spec_text("NoSuchEnv-v0", sizes=True))
    proc = fixar(tmp_path, "validate", "spec.yaml")
    assert proc.returncode == 2
    assert proc.stderr.startswith("spec.yaml:3:7: env.id: 'NoSuchEnv-v0' is not a "
                                  "registered gymnasium environment")


def test_registered_ids_need_no_option():
    spec = load_spec({"env": {"id": "MountainCarContinuous-v0"},
                      "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}}})
    assert spec.obs_dim == 2


def test_the_python_api_needs_the_explicit_opt_in_too():
    mapping = {"env": {"id": "gymnasium.envs.classic_control:Pendulum-v1"},
               "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}}}
    with pytest.raises(SpecError, match="env.id: .*module-qualified"):
        load_spec(mapping)
    with allow_env_modules():
        assert load_spec(mapping).obs_dim == 3
    with pytest.raises(SpecError):
        load_spec(mapping)                 # the permission ends with the block
