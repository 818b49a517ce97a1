#!/usr/bin/env bash
# Create, set up, run, fetch and delete Cloud TPU VMs for xlmr-flax studies.
#
# NOT IMPLEMENTED YET: the TPU launcher arrives with the "Configs and launching on
# Cloud TPU VMs" work. Until then this script only prints its planned usage.
set -euo pipefail

cat >&2 <<'USAGE'
usage: launch_tpu.sh {create|setup|run|status|fetch|delete} [--dry-run] [options]

Not implemented yet: this launcher is a placeholder until the TPU launch work
lands. Run the study locally with:
    python -m train --config configs/smoke.py --workdir runs/smoke
USAGE
exit 2
