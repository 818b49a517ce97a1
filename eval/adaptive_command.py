"""The state of an adaptive study, as JSON: each comparison's interval, seeds used and
state (positive / negative: sign decided; negligible: inside ±delta; futile: the seed
budget could not decide it; budget: undecided at the seed budget; open), and the runs
(path, target, seed) of the next round.

    python -m eval adaptive --workdir runs/x [--n-boot 1000] [--seed 0]

A look whose runs are all evaluated but not yet recorded is recorded first (as the
study does after each round); a recorded look is never decided again. docs/adaptive.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from eval.analysis import ResultsError
from eval.report.adaptive import DesignChanged, next_round, state_json
from eval.stats.adaptive import DesignError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, help="the adaptive study's folder")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def run(args: argparse.Namespace) -> int:
    """Prints the state; exit status 1 (one line on stderr) when it cannot be read."""
    try:
        state = next_round(args.workdir, n_boot=args.n_boot, seed=args.seed)
    except (FileNotFoundError, ResultsError, DesignChanged, DesignError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(state_json(state), indent=1))
    return 0
