"""The README's main command runs end to end on the bundled sample data."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_smoke_config_runs_and_rerun_reuses_outputs(tmp_path):
    workdir = tmp_path / "smoke"
    command = [
        sys.executable,
        "-m",
        "train",
        "--config",
        "configs/smoke.py",
        "--workdir",
        str(workdir),
    ]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((workdir / "alignment.json").read_text())
    languages = summary["languages"]
    assert {"en", "de", "ru", "ar", "hi", "zh", "ja", "sw"} <= set(languages)
    assert languages["en"]["retrieval_accuracy"] == 100.0  # English finds itself
    assert all(row["unk_rate"] == 0.0 for row in languages.values())
    assert sorted(os.listdir(workdir / "pretrained")) == ["params", "tokenizer", "xlmr_flax.json"]
    written = (workdir / "pretrained" / "xlmr_flax.json").stat().st_mtime_ns

    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    # Existing outputs are reused, not rewritten.
    assert (workdir / "pretrained" / "xlmr_flax.json").stat().st_mtime_ns == written
    assert json.loads((workdir / "alignment.json").read_text()) == summary
