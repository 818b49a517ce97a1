"""requirements-tpu.lock stays in step with setup.py: every requirement is locked at a
version its specifier allows; the lock is pip's resolution (no network in these tests)."""

import itertools
import json
import os

import pytest

from configs.cluster import lockfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_lock_file_satisfies_setup_py_and_the_cluster():
    """Fails when a dependency is added to setup.py (or its specifier tightened)
    without regenerating the lock: `python -m configs.cluster.lockfile --out ...`."""
    requirements = lockfile.cluster_requirements()
    pins = lockfile.read_lock()
    assert lockfile.drift(requirements, pins) == []
    assert pins["ray"] == "2.60.0" and "libtpu" in pins and "conllu" in pins
    assert "xlmr-flax" not in pins  # the project itself is installed from the commit


def test_setup_requirements_are_read_from_setup_py_without_running_it(tmp_path):
    assert "jax>=0.10.2" in lockfile.setup_requirements()
    setup = tmp_path / "setup.py"
    setup.write_text(
        "from setuptools import setup\nsetup(name='x', install_requires=['a>=1', 'b'])\n"
    )
    assert lockfile.setup_requirements(str(setup)) == ["a>=1", "b"]
    setup.write_text("from setuptools import setup\nsetup(name='x', install_requires=REQS)\n")
    with pytest.raises(ValueError, match="no literal install_requires"):
        lockfile.setup_requirements(str(setup))


def test_drift_names_a_missing_requirement_and_a_refused_version():
    pins = {"jax": "0.9.0", "numpy": "2.4.6"}
    problems = lockfile.drift(["jax>=0.10.2", "numpy", "conllu", "pywin32; os_name == 'nt'"], pins)
    assert problems == [
        "jax==0.9.0 in the lock: 'jax>=0.10.2' refuses it",
        "conllu: required by 'conllu' but not in the lock",
    ]
    assert lockfile.drift(["Orbax_Checkpoint>=0.12"], {"orbax-checkpoint": "0.12.8"}) == []


def test_a_malformed_lock_line_names_the_file_and_line(tmp_path):
    lock = tmp_path / "lock"
    lock.write_text("# header\nabsl-py==2.5.1\nnumpy>=2\n")
    with pytest.raises(ValueError, match=r"lock:3: 'numpy>=2': expected name==version"):
        lockfile.read_lock(str(lock))


def test_resolution_is_pips_own_held_to_the_tested_versions():
    """The pip command resolves the requirements under the installed versions as
    constraints; its report becomes the lock, sorted, names canonical."""
    seen = {}

    def fake_pip(command):
        seen["command"] = command
        files = dict(itertools.pairwise(command))
        for flag, name in (("-r", "requirements"), ("-c", "constraints")):
            with open(files[flag]) as f:
                seen[name] = f.read().split()
        report = {"install": [{"metadata": {"name": "Jax", "version": "0.10.2"}},
                              {"metadata": {"name": "absl_py", "version": "2.5.1"}}]}  # fmt: skip
        with open(files["--report"], "w") as f:
            json.dump(report, f)

    pins = lockfile.resolve(["jax[tpu]==0.10.2", "absl-py"], ["absl-py==2.5.1"], run=fake_pip)
    assert pins == {"jax": "0.10.2", "absl-py": "2.5.1"}
    assert seen["command"][1:6] == ["-m", "pip", "install", "--dry-run", "--ignore-installed"]
    assert seen["requirements"] == ["jax[tpu]==0.10.2", "absl-py"]
    assert seen["constraints"] == ["absl-py==2.5.1"]
    text = lockfile.render(pins)
    assert text.startswith(lockfile.HEADER) and text.endswith("absl-py==2.5.1\njax==0.10.2\n")


def test_the_check_command_fails_on_drift(tmp_path, capsys):
    lock = tmp_path / "requirements-tpu.lock"
    lock.write_text("absl-py==2.5.1\n")
    assert lockfile.main(["--check", "--lock", str(lock)]) == 1
    assert "not in the lock" in capsys.readouterr().err
    assert lockfile.main(["--check"]) == 0
