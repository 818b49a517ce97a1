"""An adaptive study in the report and on the command line: its comparisons' states
as a table (adaptive.csv, a section of report.md) and as JSON (`python -m eval
adaptive`), and their intervals over the looks (adaptive.png), from the study record
of eval/stats/adaptive_study.py. docs/adaptive.md.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any

from eval.analysis import path_key
from eval.report.folder import _write_text
from eval.stats import adaptive, adaptive_study
from eval.stats.adaptive_study import State

COLUMNS = (
    "comparison", "state", "look", "seeds_used", "effect", "ci_low", "ci_high",
    "family_low", "family_high", "p_seq", "p_holm", "langs", "resampling",
)  # fmt: skip


def _number(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) and math.isfinite(value) else value


def comparison_rows(state: State) -> list[dict[str, Any]]:
    """One flat row per comparison, its latest look."""
    return [
        dict(
            comparison=adaptive_study.comparison_name(r),
            state=r["state"],
            look=r["look"] + 1,
            seeds_used=r["n_seeds"],
            **{k: _number(r[k]) for k in COLUMNS[4:11]},
            langs=" ".join(r["langs"]),
            resampling=r["resampling"],
        )
        for r in state.rows
    ]


def state_json(state: State) -> dict[str, Any]:
    """What `python -m eval adaptive` prints."""
    return dict(
        design=state.planned["design"],
        fingerprint=state.planned["fingerprint"],
        targets=state.planned["targets"],
        looks_recorded=len(state.looks),
        looks_planned=len(state.planned["design"]["looks"]),
        finished=state.finished,
        comparisons=comparison_rows(state),
        next_round=[dict(path=path_key(p), target=t, seed=s) for p, t, s in state.next_runs],
        waiting_for=state.waiting,
    )


def write_adaptive(workdir: str, directory: str, files: list[str]) -> str:
    """adaptive.csv and adaptive.png into the report folder (their names appended to
    `files`); the section of report.md. Empty for a study that is not adaptive. Reads
    the recorded looks only: the report never decides."""
    planned = adaptive_study.read_design(workdir)
    if planned is None:
        return ""
    looks = adaptive_study.read_looks(workdir, planned["fingerprint"])
    state = State(planned, looks, list(looks[-1]["comparisons"]) if looks else [])
    rows = comparison_rows(state)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(os.path.join(directory, "adaptive.csv"), buffer.getvalue())
    files.append("adaptive.csv")
    if looks:
        _plot(looks, planned["design"]["delta"], os.path.join(directory, "adaptive.png"))
        files.append("adaptive.png")
    design = planned["design"]
    lines = [
        "",
        "## Adaptive design",
        "",
        f"Pre-registered (fingerprint {planned['fingerprint']}): alpha {design['alpha']}, "
        f"negligible within ±{design['delta']} points, looks at {design['looks']} seeds "
        f"(spending exponent {design['rho']}), families {', '.join(design['families'])} "
        f"(estimand {design['estimand']}), targets {', '.join(planned['targets'])}. "
        f"{len(looks)} of {len(design['looks'])} looks recorded. docs/adaptive.md.",
        "",
        "| comparison | state | look | seeds | effect | interval | family interval | languages |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['comparison']} | {r['state']} | {r['look']} | {r['seeds_used']} | "
            f"{r['effect']:+.2f} | [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | "
            f"[{r['family_low']:.2f}, {r['family_high']:.2f}] | {r['langs']} |"
        )
    if looks:
        lines += ["", "![intervals over the looks](adaptive.png)"]
    return "\n".join(lines) + "\n"


def _plot(looks: list[dict[str, Any]], delta: float, path: str) -> None:
    """Each comparison's interval at each look it was open, with the ±δ band."""
    from eval.report.plots import _pyplot

    plt = _pyplot()
    names = sorted(
        {adaptive_study.comparison_name(r) for look in looks for r in look["comparisons"]}
    )
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.45 * len(names) * len(looks)))
    ticks, labels = [], []
    y = 0.0
    for name in names:
        for look in looks:
            row = next(
                (r for r in look["comparisons"] if adaptive_study.comparison_name(r) == name), None
            )
            if row is None or row["look"] != look["look"]:
                continue  # stopped earlier: nothing new at this look
            ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=STATE_COLOURS[row["state"]])
            ax.plot([row["effect"]], [y], "o", color=STATE_COLOURS[row["state"]], markersize=4)
            ticks.append(y)
            labels.append(
                f"{name}, look {look['look'] + 1} ({row['n_seeds']} seeds): {row['state']}"
            )
            y -= 1
        y -= 0.5
    ax.axvspan(-delta, delta, color="#dddddd", zorder=0)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("ordering effect (points), interval at each look")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


STATE_COLOURS = {
    adaptive.OPEN: "#555555",
    adaptive.POSITIVE: "#1b9e77",
    adaptive.NEGATIVE: "#d95f02",
    adaptive.NEGLIGIBLE: "#7570b3",
    adaptive.BUDGET: "#999999",
    adaptive.FUTILE: "#bbbbbb",
}
