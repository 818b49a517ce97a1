"""Per-step metrics as JSON lines, written by process 0 only (the values are global)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import jax


class MetricsWriter:
    def __init__(self, path: str):
        self.path = path
        self.enabled = jax.process_index() == 0
        if self.enabled:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def truncate_after(self, step: int) -> None:
        """Drops lines of steps after `step`: a resumed run writes them again."""
        if self.enabled and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                kept = [line for line in f if json.loads(line)["step"] <= step]
            with open(self.path, "w", encoding="utf-8") as f:
                f.writelines(kept)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(
                    json.dumps({"step": step, **{k: float(v) for k, v in metrics.items()}}) + "\n"
                )
