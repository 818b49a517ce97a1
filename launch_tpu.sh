#!/usr/bin/env bash
# Create, set up, run, watch, fetch and delete Cloud TPU VMs (single hosts or pod
# slices) for xlmr-flax studies. Walk-through: docs/tpu.md. `./launch_tpu.sh help`.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: launch_tpu.sh COMMAND [options] [-- extra arguments]

commands
  create   request a TPU VM or pod slice through a queued resource (spot or on-demand)
  setup    copy this working tree (or git-clone --repo) to every worker, install it
           into a Python 3.11 virtual environment with jax[tpu], install Cloud Storage
           FUSE (gcsfuse) and mount the workdir's bucket at /mnt/gcs/BUCKET (needs
           --bucket or --workdir); --data syncs raw data
  run      start `python -m train --config CONFIG --workdir /mnt/gcs/BUCKET/PATH` on
           every worker, the workdir gs://BUCKET/PATH as mounted by setup (detached,
           log in ~/xlmr-flax-run.log; --foreground streams it instead); arguments
           after `--` are passed on to `python -m train`
  stop     stop the run on every worker (a later `run` resumes exactly)
  status   the queued resource's state, the run's last log lines on worker 0 and,
           with --config, the study's done/pending stage counts
  fetch    copy WORKDIR/results.jsonl and WORKDIR/report/ to a local folder
  delete   delete the queued resource and its TPU VMs
  help     this text

settings (flag, or environment variable)
  --name NAME            XLMR_TPU_NAME         queued resource and TPU VM name (required)
  --zone ZONE            XLMR_TPU_ZONE         e.g. us-central2-b (required)
  --project PROJECT      XLMR_TPU_PROJECT      default: gcloud's configured project
  --accelerator TYPE     XLMR_TPU_ACCELERATOR  e.g. v4-8, v4-32, v5litepod-16 (default v4-8)
  --runtime VERSION      XLMR_TPU_RUNTIME      default: from the accelerator (v4 and older:
                                               tpu-ubuntu2204-base, v5e: v2-alpha-tpuv5-lite,
                                               v5p: v2-alpha-tpuv5, v6e: v2-alpha-tpuv6e)
  --spot / --on-demand   XLMR_TPU_SPOT=1|0     spot capacity (preemptible) or on-demand (default)
  --bucket BUCKET        XLMR_TPU_BUCKET       gs:// bucket of the workdir
  --workdir URL          XLMR_TPU_WORKDIR      gs://BUCKET/PATH, default gs://BUCKET/runs/<config
                                               file name>; setup mounts its bucket on every
                                               worker, where it is /mnt/gcs/BUCKET/PATH
  --config FILE[:ARG]                          experiment config (run; status, fetch)
  --shard I/N                                  run the I-th of N disjoint parts of the study
  --repo URL             XLMR_TPU_REPO         setup: git-clone this instead of copying the tree
  --ref REF              XLMR_TPU_REF          setup: commit, branch or tag of --repo
  --data URL             XLMR_TPU_DATA         setup: gs:// folder of raw data, synced to
                                               ~/xlmr-flax/download on every worker
  --dest DIR                                   fetch: local folder (default results/<workdir name>)
  --foreground                                 run: stream the output instead of detaching
  --dry-run              XLMR_TPU_DRY_RUN=1    print the commands, one per line, run nothing

examples
  export XLMR_TPU_NAME=xlmr-v4-32 XLMR_TPU_ZONE=us-central2-b XLMR_TPU_BUCKET=my-bucket
  ./launch_tpu.sh create --accelerator v4-32 --spot
  ./launch_tpu.sh setup --data gs://my-bucket/download
  ./launch_tpu.sh run --config configs/xtreme_r_sequencing.py --shard 0/2
  ./launch_tpu.sh status --config configs/xtreme_r_sequencing.py
  ./launch_tpu.sh fetch --config configs/xtreme_r_sequencing.py
  ./launch_tpu.sh delete
USAGE
}

die() {
  printf 'launch_tpu.sh: %s\n' "$*" >&2
  exit 2
}

# Remote layout on every worker; `~` is left for the workers' shell to expand.
# shellcheck disable=SC2088
{
  REMOTE_DIR='~/xlmr-flax'
  REMOTE_VENV='~/xlmr-venv'
  REMOTE_LOG='~/xlmr-flax-run.log'
  REMOTE_PID='~/xlmr-flax-run.pid'
}

# The workdir is a gs:// URL here, but the pipeline writes it with plain file
# operations (atomic renames, Orbax), so `setup` mounts its bucket with Cloud Storage
# FUSE on every worker, at the same path: gs://BUCKET/PATH is /mnt/gcs/BUCKET/PATH there.
MOUNT_ROOT=/mnt/gcs
GCSFUSE_OPTIONS=(
  # Show folders that exist only as a prefix of object names (objects uploaded with
  # `gcloud storage`, or folders made by other tools), not only those gcsfuse made.
  --implicit-dirs
  # The pipeline publishes checkpoints and stage outputs by renaming a finished staging
  # folder into place, and Orbax renames its checkpoint folders too; gcsfuse renames a
  # folder only if it holds fewer objects than this (default 0: none).
  --rename-dir-limit=1000000
  # No metadata cache: the workers of a slice, and other slices, read done-markers and
  # files that another one has just written; a cached "not found" would make a worker
  # redo or wait on finished work. (0 turns off the negative entries too.)
  --metadata-cache-ttl-secs=0
)

# ---------------------------------------------------------------------------------
# Settings: environment first, flags override
# ---------------------------------------------------------------------------------

NAME=${XLMR_TPU_NAME:-}
ZONE=${XLMR_TPU_ZONE:-}
PROJECT=${XLMR_TPU_PROJECT:-}
ACCELERATOR=${XLMR_TPU_ACCELERATOR:-v4-8}
RUNTIME=${XLMR_TPU_RUNTIME:-}
SPOT=${XLMR_TPU_SPOT:-0}
BUCKET=${XLMR_TPU_BUCKET:-}
WORKDIR=${XLMR_TPU_WORKDIR:-}
REPO=${XLMR_TPU_REPO:-}
REF=${XLMR_TPU_REF:-}
DATA=${XLMR_TPU_DATA:-}
DRY_RUN=${XLMR_TPU_DRY_RUN:-0}
CONFIG=''
SHARD=''
DEST=''
FOREGROUND=0
COMMAND=''
EXTRA=()

value_of() {  # value_of FLAG "$@": the flag's value, from --flag=value or --flag value
  local flag=$1
  shift
  if [[ $1 == *=* ]]; then
    printf '%s' "${1#*=}"
  elif (($# >= 2)); then
    printf '%s' "$2"
  else
    die "$flag needs a value"
  fi
}

while (($#)); do
  arg=$1
  taken=1
  case $arg in
    --name | --name=*) NAME=$(value_of --name "$@") ;;
    --zone | --zone=*) ZONE=$(value_of --zone "$@") ;;
    --project | --project=*) PROJECT=$(value_of --project "$@") ;;
    --accelerator | --accelerator=*) ACCELERATOR=$(value_of --accelerator "$@") ;;
    --runtime | --runtime=*) RUNTIME=$(value_of --runtime "$@") ;;
    --bucket | --bucket=*) BUCKET=$(value_of --bucket "$@") ;;
    --workdir | --workdir=*) WORKDIR=$(value_of --workdir "$@") ;;
    --config | --config=*) CONFIG=$(value_of --config "$@") ;;
    --shard | --shard=*) SHARD=$(value_of --shard "$@") ;;
    --repo | --repo=*) REPO=$(value_of --repo "$@") ;;
    --ref | --ref=*) REF=$(value_of --ref "$@") ;;
    --data | --data=*) DATA=$(value_of --data "$@") ;;
    --dest | --dest=*) DEST=$(value_of --dest "$@") ;;
    --spot) SPOT=1 taken=0 ;;
    --on-demand) SPOT=0 taken=0 ;;
    --foreground) FOREGROUND=1 taken=0 ;;
    --dry-run) DRY_RUN=1 taken=0 ;;
    -h | --help) COMMAND=help taken=0 ;;
    --)
      shift
      EXTRA=("$@")
      break
      ;;
    -*) die "unknown option $arg (see: launch_tpu.sh help)" ;;
    *)
      [[ -z $COMMAND ]] || die "unexpected argument $arg (see: launch_tpu.sh help)"
      COMMAND=$arg
      taken=0
      ;;
  esac
  # A flag written as `--flag value` uses two words.
  if ((taken)) && [[ $arg != *=* ]]; then shift; fi
  shift
done

# ---------------------------------------------------------------------------------
# Quoting, settings checks, remote commands
# ---------------------------------------------------------------------------------

quote() {  # a word as a POSIX shell reads it back: bare when safe, else single-quoted
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$1"
  else
    local q="'\\''"
    printf "'%s'" "${1//\'/$q}"
  fi
}

quote_all() {
  local out='' word
  for word in "$@"; do out+="${out:+ }$(quote "$word")"; done
  printf '%s' "$out"
}

run() {  # runs a command, or prints it under --dry-run
  if [[ $DRY_RUN == 1 ]]; then
    printf '%s\n' "$(quote_all "$@")"
  else
    "$@"
  fi
}

need() {  # need VALUE VARIABLE FLAG
  [[ -n $1 ]] || die "$2 is not set: export $2=... or pass $3"
}

need_gcloud() {
  [[ $DRY_RUN == 1 ]] || command -v gcloud >/dev/null 2>&1 ||
    die "gcloud is not on PATH: install the Google Cloud CLI" \
      "(https://cloud.google.com/sdk/docs/install), or use --dry-run to see the commands"
}

location() {  # --zone and --project flags for gcloud
  LOCATION=("--zone=$ZONE")
  if [[ -n $PROJECT ]]; then LOCATION+=("--project=$PROJECT"); fi
}

default_runtime() {
  case $ACCELERATOR in
    v6e-*) printf 'v2-alpha-tpuv6e' ;;
    v5p-*) printf 'v2-alpha-tpuv5' ;;
    v5litepod-* | v5e-*) printf 'v2-alpha-tpuv5-lite' ;;
    v2-* | v3-* | v4-*) printf 'tpu-ubuntu2204-base' ;;
    *) die "no default runtime for accelerator $ACCELERATOR: pass --runtime or set XLMR_TPU_RUNTIME" ;;
  esac
}

workdir_bucket() {  # BUCKET_NAME and MOUNT: the bucket of the workdir (or --bucket), its mount
  local url=$WORKDIR
  if [[ -z $url ]]; then
    need "$BUCKET" XLMR_TPU_BUCKET "--bucket BUCKET, or give the workdir whose bucket the\
 workers mount (--workdir gs://BUCKET/..., XLMR_TPU_WORKDIR)"
    url=gs://${BUCKET#gs://}
  fi
  [[ $url == gs://* ]] ||
    die "the workdir must be a gs:// URL that every worker shares, got $url"
  BUCKET_NAME=${url#gs://}
  BUCKET_NAME=${BUCKET_NAME%%/*}
  [[ $BUCKET_NAME =~ ^[a-z0-9][a-z0-9._-]*$ ]] ||
    die "not a Cloud Storage bucket name: '$BUCKET_NAME' (from $url)"
  MOUNT=$MOUNT_ROOT/$BUCKET_NAME
}

mount_check() {  # a remote script that fails unless the workdir's bucket is mounted
  printf '%s' "if ! mountpoint -q $MOUNT; then echo \"\$(hostname): gs://$BUCKET_NAME is not mounted at\
 $MOUNT: run ./launch_tpu.sh setup first\" >&2; exit 1; fi"
}

resolve_workdir() {  # WORKDIR, or gs://BUCKET/runs/<config file name>; LOCAL_WORKDIR
  if [[ -z $WORKDIR ]]; then
    need "$BUCKET" XLMR_TPU_BUCKET "--bucket BUCKET (or --workdir gs://...)"
    [[ -n $CONFIG ]] || die "no workdir: pass --config FILE (workdir gs://BUCKET/runs/FILE)" \
      "or --workdir gs://..., or export XLMR_TPU_WORKDIR"
    local file=${CONFIG%%:*}
    file=${file##*/}
    local bucket=${BUCKET#gs://}
    WORKDIR="gs://${bucket%/}/runs/${file%.py}"
  fi
  [[ $WORKDIR == gs://* ]] ||
    die "the workdir must be a gs:// URL that every worker shares, got $WORKDIR"
  WORKDIR=${WORKDIR%/}
  workdir_bucket
  # What the workers pass to the pipeline: the same folder in the mounted bucket.
  LOCAL_WORKDIR=$MOUNT_ROOT/${WORKDIR#gs://}
}

ssh_workers() {  # ssh_workers WORKER SCRIPT: the script on one worker or on all of them
  run gcloud compute tpus tpu-vm ssh "$NAME" "${LOCATION[@]}" "--worker=$1" "--command=$2"
}

train_command() {  # the main command, quoted for the remote shell
  local words=(python -m train --config "$CONFIG" --workdir "$LOCAL_WORKDIR")
  if [[ -n $SHARD ]]; then words+=(--shard "$SHARD"); fi
  words+=("$@")
  printf '%s/bin/%s' "$REMOTE_VENV" "$(quote_all "${words[@]}")"
}

# ---------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------

cmd_create() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  local runtime
  runtime=${RUNTIME:-$(default_runtime)}  # apart from `local`, so that a failure stops here
  local tier=()
  if [[ $SPOT == 1 ]]; then tier=(--spot); fi
  # ${a[@]+"${a[@]}"}: an empty array under `set -u` in the bash 3.2 of macOS too.
  run gcloud compute tpus queued-resources create "$NAME" "--node-id=$NAME" "${LOCATION[@]}" \
    "--accelerator-type=$ACCELERATOR" "--runtime-version=$runtime" ${tier[@]+"${tier[@]}"} \
    ${EXTRA[@]+"${EXTRA[@]}"}
}

cmd_setup() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  workdir_bucket
  need_gcloud
  location
  local source
  if [[ -n $REPO ]]; then
    source="{ if [ -d $REMOTE_DIR/.git ]; then git -C $REMOTE_DIR fetch --quiet origin;"
    source+=" else git clone --quiet $(quote "$REPO") $REMOTE_DIR; fi; }"
    source+=" && git -C $REMOTE_DIR checkout --quiet --detach $(quote "${REF:-origin/HEAD}")"
  else
    local src=${BASH_SOURCE[0]}
    local dir=${src%/*}
    [[ $dir != "$src" ]] || dir=.
    local root
    root=$(cd "$dir" && pwd)
    local archive="${TMPDIR:-/tmp}/xlmr-flax-$NAME.tar.gz"
    run tar -czf "$archive" --exclude=.git --exclude=__pycache__ --exclude='*.egg-info' \
      --exclude=.pytest_cache --exclude=.ruff_cache --exclude=./runs --exclude=./build \
      --exclude=./dist -C "$root" .
    run gcloud compute tpus tpu-vm scp "$archive" "$NAME:xlmr-flax.tar.gz" "${LOCATION[@]}" \
      --worker=all
    source="mkdir -p $REMOTE_DIR && tar -xzf ~/xlmr-flax.tar.gz -C $REMOTE_DIR"
  fi
  local install="{ command -v python3.11 >/dev/null || { sudo apt-get -o DPkg::Lock::Timeout=600"
  install+=" update -qq && sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq"
  install+=" python3.11 python3.11-venv; }; }"
  install+=" && python3.11 -m venv $REMOTE_VENV"
  install+=" && $REMOTE_VENV/bin/pip install -q --upgrade pip"
  install+=" && $REMOTE_VENV/bin/pip install -q -e $REMOTE_DIR 'jax[tpu]'"
  # Cloud Storage FUSE from Google's apt repository, unless the image has it.
  local apt='sudo apt-get -o DPkg::Lock::Timeout=600' key=/usr/share/keyrings/cloud.google.asc
  local fuse="{ command -v gcsfuse >/dev/null || { echo \"deb [signed-by=$key]"
  fuse+=" https://packages.cloud.google.com/apt gcsfuse-\$(lsb_release -c -s) main\""
  fuse+=" | sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null"
  fuse+=" && sudo curl -fsSL -o $key https://packages.cloud.google.com/apt/doc/apt-key.gpg"
  fuse+=" && $apt update -qq && $apt install -y -qq gcsfuse; }; }"
  # The bucket at $MOUNT, unless it is mounted already; a gcsfuse that died leaves a
  # stale mount ("Transport endpoint is not connected"), unmounted first.
  local mount="{ mountpoint -q $MOUNT || { { sudo umount $MOUNT 2>/dev/null || true; }"
  mount+=" && sudo mkdir -p $MOUNT && sudo chown \"\$(id -u):\$(id -g)\" $MOUNT"
  mount+=" && gcsfuse $(quote_all "${GCSFUSE_OPTIONS[@]}") $BUCKET_NAME $MOUNT; }; }"
  local data=''
  if [[ -n $DATA ]]; then
    [[ $DATA == gs://* ]] || die "--data must be a gs:// folder, got $DATA"
    data=" && gcloud storage rsync --recursive $(quote "${DATA%/}") $REMOTE_DIR/download"
  fi
  ssh_workers all "set -e; $source && $install && $fuse && $mount$data\
 && echo \"\$(hostname): ready, gs://$BUCKET_NAME mounted at $MOUNT\""
}

cmd_run() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  [[ -n $CONFIG ]] || die "no config: pass --config FILE[:ARG]"
  resolve_workdir
  if [[ -n $SHARD && ! $SHARD =~ ^[0-9]+/[0-9]+$ ]]; then
    die "--shard $SHARD: expected I/N, e.g. 0/4"
  fi
  need_gcloud
  location
  local main
  main=$(train_command ${EXTRA[@]+"${EXTRA[@]}"})
  local busy="if [ -f $REMOTE_PID ] && kill -0 \"\$(cat $REMOTE_PID)\" 2>/dev/null;"
  busy+=" then echo \"\$(hostname): a run is already going (launch_tpu.sh stop)\" >&2; exit 1; fi"
  local mounted
  mounted=$(mount_check)
  if [[ $FOREGROUND == 1 ]]; then
    ssh_workers all "$mounted; $busy; cd $REMOTE_DIR && $main 2>&1 | tee $REMOTE_LOG"
  else
    ssh_workers all "$mounted; $busy; cd $REMOTE_DIR && { nohup $main > $REMOTE_LOG 2>&1 < /dev/null &\
 echo \$! > $REMOTE_PID; } && echo \"\$(hostname): started, log in $REMOTE_LOG\""
  fi
}

cmd_stop() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  # SIGKILL: jax.distributed catches SIGTERM, and the next run resumes exactly anyway.
  ssh_workers all "if [ -f $REMOTE_PID ] && kill -9 \"\$(cat $REMOTE_PID)\" 2>/dev/null;\
 then echo \"\$(hostname): stopped\"; else echo \"\$(hostname): no run\"; fi; rm -f $REMOTE_PID"
}

cmd_status() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  run gcloud compute tpus queued-resources describe "$NAME" "${LOCATION[@]}" \
    '--format=value(state.state)'
  local alive="if [ -f $REMOTE_PID ] && kill -0 \"\$(cat $REMOTE_PID)\" 2>/dev/null;"
  alive+=" then echo running; else echo 'not running'; fi; tail -n 5 $REMOTE_LOG 2>/dev/null"
  # Worker 0 holds process 0, the one that logs progress.
  ssh_workers 0 "$alive" || echo "launch_tpu.sh: worker 0 did not answer (not ACTIVE yet?)" >&2
  if [[ -n $CONFIG ]]; then
    resolve_workdir
    ssh_workers 0 "$(mount_check); cd $REMOTE_DIR && $(train_command --dry-run) | tail -n 1" ||
      echo "launch_tpu.sh: could not read the plan on worker 0" >&2
  fi
}

cmd_fetch() {
  resolve_workdir
  need_gcloud
  local dest=${DEST:-results/${WORKDIR##*/}}
  run mkdir -p "$dest"
  run gcloud storage cp "$WORKDIR/results.jsonl" "$dest/results.jsonl"
  run gcloud storage rsync --recursive "$WORKDIR/report" "$dest/report"
}

cmd_delete() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  # --force deletes the TPU VMs first; --quiet skips the confirmation prompt.
  run gcloud compute tpus queued-resources delete "$NAME" "${LOCATION[@]}" --force --quiet
}

if ((${#EXTRA[@]})) && [[ $COMMAND != create && $COMMAND != run ]]; then
  die "arguments after -- go to \`create\` (gcloud) or \`run\` (python -m train) only"
fi

case $COMMAND in
  '' | help) usage ;;
  create | setup | run | stop | status | fetch | delete) "cmd_$COMMAND" ;;
  *) die "unknown command $COMMAND (see: launch_tpu.sh help)" ;;
esac
