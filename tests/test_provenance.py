"""Every stage manifest names the code (commit) and the packages that produced it."""

import subprocess

from xlmr_flax import provenance


def test_the_commit_is_the_checked_out_one():
    head = subprocess.run(["git", "-C", provenance.ROOT, "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert provenance.code_commit().removesuffix("-dirty") == head


def test_an_uploaded_archive_names_its_commit_in_a_file(tmp_path):
    (tmp_path / "COMMIT").write_text("0123abcd\n")
    assert provenance.code_commit(str(tmp_path)) == "0123abcd"
    assert provenance.code_commit(str(tmp_path / "nowhere")) is None


def test_packages_are_listed_like_pip_freeze():
    packages = provenance.installed_packages()
    names = [p.split("==")[0] for p in packages]
    assert names == sorted(names)
    assert any(p.startswith("jax==") for p in packages)
    assert any(p.startswith("flax==") for p in packages)
