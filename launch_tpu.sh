#!/usr/bin/env bash
# Create, set up, run, watch, fetch and delete Cloud TPU VMs (single hosts or pod
# slices) for xlmr-flax studies. Walk-through: docs/tpu.md. `./launch_tpu.sh help`.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: launch_tpu.sh COMMAND [options] [-- extra arguments]

commands
  create   request a TPU VM or pod slice through a queued resource (spot or on-demand),
           with a startup script that remounts the bucket and resumes the run at boot
  setup    upload the checked-out commit (`git archive HEAD`; or git-clone --repo) to
           every worker, install it into a Python 3.11 virtual environment from the
           lock file requirements-tpu.lock, install Cloud Storage FUSE (gcsfuse) and
           mount the workdir's bucket at /mnt/gcs/BUCKET (needs --bucket or
           --workdir); --data syncs raw data
  run      start `python -m train --config CONFIG --workdir /mnt/gcs/BUCKET/PATH` on
           every worker, the workdir gs://BUCKET/PATH as mounted by setup (detached,
           log in ~/xlmr-flax-run.log, copied with a heartbeat to WORKDIR/logs/RUN_ID/
           in the bucket; --foreground streams it instead); all or nothing: a worker
           that fails stops the others; arguments after `--` go to `python -m train`
  watch    supervise a study unattended: create the slice, wait until it is ACTIVE,
           set up, run; recreate a FAILED, SUSPENDED or preempted slice and rerun a
           failed run or one with a silent worker (no heartbeat for XLMR_TPU_STALE
           seconds), with backoff, at most --max-restarts times; delete the slice
           when every worker has finished (--keep to leave it)
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
  --layout slice|host    XLMR_TPU_LAYOUT       run: one study over the whole slice (default), or
                                               every host its own shard on its own chips
  --max-restarts N       XLMR_TPU_MAX_RESTARTS watch: give up after N recoveries (default 10)
  --keep                                       watch: leave the slice when the study is done
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
  ./launch_tpu.sh watch --accelerator v4-32 --spot --data gs://my-bucket/download \
      --config configs/xtreme_r_sequencing.py --layout host      # all of the above, unattended
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
  REMOTE_AUTOSTART='~/xlmr-flax-autostart.sh'  # what the startup script runs at boot
}

# The workdir is a gs:// URL here, but the pipeline writes it with plain file
# operations (atomic renames, Orbax), so `setup` mounts its bucket with Cloud Storage
# FUSE on every worker, at the same path: gs://BUCKET/PATH is /mnt/gcs/BUCKET/PATH there.
MOUNT_ROOT=${XLMR_TPU_MOUNT_ROOT:-/mnt/gcs}
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
LAYOUT=${XLMR_TPU_LAYOUT:-slice}
MAX_RESTARTS=${XLMR_TPU_MAX_RESTARTS:-10}
POLL=${XLMR_TPU_POLL:-60}            # watch: seconds between looks at the slice
BACKOFF=${XLMR_TPU_BACKOFF:-60}      # watch: first wait before a recovery, doubled each time
HEARTBEAT=${XLMR_TPU_HEARTBEAT:-60}  # worker: seconds between log copies to the bucket
STALE=${XLMR_TPU_STALE:-1800}        # watch: a worker silent this long is hung or gone
RUN_ID=${XLMR_TPU_RUN_ID:-}
LOG_DIR=''
KEEP=0
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
    --layout | --layout=*) LAYOUT=$(value_of --layout "$@") ;;
    --max-restarts | --max-restarts=*) MAX_RESTARTS=$(value_of --max-restarts "$@") ;;
    --run-id | --run-id=*) RUN_ID=$(value_of --run-id "$@") ;;
    --log-dir | --log-dir=*) LOG_DIR=$(value_of --log-dir "$@") ;;
    --keep) KEEP=1 taken=0 ;;
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

hosts_of() {  # workers (hosts) of a slice: v4-32 -> 4 (the table of train/study/plan/targets.py)
  local number=${1##*-} chips limit
  case $1 in
    v2-* | v3-* | v4-* | v5p-*) chips=$((number / 2)) limit=4 ;;
    v5litepod-* | v5e-* | v6e-*) chips=$number limit=8 ;;
    *) die "unknown accelerator type $1 (e.g. v4-32, v5litepod-16, v5p-32, v6e-16)" ;;
  esac
  if ((chips <= limit)); then printf 1; else printf '%s' $((chips / 4)); fi
}

mount_script() {  # mounts the workdir's bucket at $MOUNT, unless it is mounted already
  # A gcsfuse that died leaves a stale mount ("Transport endpoint is not connected"),
  # unmounted first.
  local mount="{ mountpoint -q $MOUNT || { { sudo umount $MOUNT 2>/dev/null || true; }"
  mount+=" && sudo mkdir -p $MOUNT && sudo chown \"\$(id -u):\$(id -g)\" $MOUNT"
  mount+=" && gcsfuse $(quote_all "${GCSFUSE_OPTIONS[@]}") $BUCKET_NAME $MOUNT; }; }"
  printf '%s' "$mount"
}

startup_script() {  # runs as root at every boot of every worker (create's metadata)
  local user=${USER:-$(id -un)}
  cat <<EOF
#!/bin/bash
# Written by launch_tpu.sh create. At every boot (a maintenance reboot, a restart),
# resume the run that was going on this worker: its script remounts the bucket and
# starts the run again, which continues from its checkpoints. A fresh VM has none.
home=\$(getent passwd $(quote "$user") | cut -d: -f6)
if [ -n "\$home" ] && [ -f "\$home/xlmr-flax-autostart.sh" ]; then
  exec sudo -u $(quote "$user") -H bash "\$home/xlmr-flax-autostart.sh"
fi
EOF
}

tpu_metadata() {  # an attribute of this TPU VM's metadata server (empty elsewhere)
  curl -sf -m 5 -H 'Metadata-Flavor: Google' \
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1" 2>/dev/null ||
    true
}

clear_tpu_script() {  # kills whatever still holds this worker's TPU chips
  printf '%s' "for d in /dev/accel* /dev/vfio/[0-9]*; do if [ -e \"\$d\" ];\
 then sudo -n fuser -k -9 \"\$d\" >/dev/null 2>&1 || true; fi; done"
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
  local tier=() startup=()
  if [[ $SPOT == 1 ]]; then tier=(--spot); fi
  if [[ -n $WORKDIR || -n $BUCKET ]]; then  # a bucket to remount at boot
    workdir_bucket
    local file="${TMPDIR:-/tmp}/xlmr-flax-$NAME-startup.sh"
    if [[ $DRY_RUN != 1 ]]; then startup_script > "$file"; fi
    startup=("--metadata-from-file=startup-script=$file")
  fi
  # ${a[@]+"${a[@]}"}: an empty array under `set -u` in the bash 3.2 of macOS too.
  run gcloud compute tpus queued-resources create "$NAME" "--node-id=$NAME" "${LOCATION[@]}" \
    "--accelerator-type=$ACCELERATOR" "--runtime-version=$runtime" ${tier[@]+"${tier[@]}"} \
    ${startup[@]+"${startup[@]}"} ${EXTRA[@]+"${EXTRA[@]}"}
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
    local commit=''
    if git -C "$root" rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
      # The committed code and nothing else: every worker gets the same files, and
      # every stage manifest names the commit they came from.
      commit=$(git -C "$root" rev-parse HEAD)
      if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        printf 'launch_tpu.sh: warning: uncommitted changes in %s are not uploaded;' "$root" >&2
        printf ' the workers get commit %s (commit first to run them)\n' "$commit" >&2
      fi
      run git -C "$root" archive --format=tar.gz -o "$archive" HEAD
    else
      echo "launch_tpu.sh: warning: $root is not a git checkout; uploading its files as they are" >&2
      run tar -czf "$archive" --exclude=.git --exclude=__pycache__ --exclude='*.egg-info' \
        --exclude=.pytest_cache --exclude=.ruff_cache --exclude=./runs --exclude=./build \
        --exclude=./dist --exclude=./download --exclude=./tfds -C "$root" .
    fi
    run gcloud compute tpus tpu-vm scp "$archive" "$NAME:xlmr-flax.tar.gz" "${LOCATION[@]}" \
      --worker=all
    # A fresh folder: files deleted since the last upload do not linger.
    source="rm -rf $REMOTE_DIR && mkdir -p $REMOTE_DIR && tar -xzf ~/xlmr-flax.tar.gz -C $REMOTE_DIR"
    if [[ -n $commit ]]; then source+=" && echo $commit > $REMOTE_DIR/COMMIT"; fi
  fi
  local install="{ command -v python3.11 >/dev/null || { sudo apt-get -o DPkg::Lock::Timeout=600"
  install+=" update -qq && sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq"
  install+=" python3.11 python3.11-venv; }; }"
  install+=" && python3.11 -m venv $REMOTE_VENV"
  install+=" && $REMOTE_VENV/bin/pip install -q --upgrade pip"
  # Exact versions from the lock file, the same on every worker; then the project alone.
  install+=" && $REMOTE_VENV/bin/pip install -q -r $REMOTE_DIR/requirements-tpu.lock"
  install+=" && $REMOTE_VENV/bin/pip install -q --no-deps -e $REMOTE_DIR"
  # Cloud Storage FUSE from Google's apt repository, unless the image has it.
  local apt='sudo apt-get -o DPkg::Lock::Timeout=600' key=/usr/share/keyrings/cloud.google.asc
  local fuse="{ command -v gcsfuse >/dev/null || { echo \"deb [signed-by=$key]"
  fuse+=" https://packages.cloud.google.com/apt gcsfuse-\$(lsb_release -c -s) main\""
  fuse+=" | sudo tee /etc/apt/sources.list.d/gcsfuse.list >/dev/null"
  fuse+=" && sudo curl -fsSL -o $key https://packages.cloud.google.com/apt/doc/apt-key.gpg"
  fuse+=" && $apt update -qq && $apt install -y -qq gcsfuse; }; }"
  local data=''
  if [[ -n $DATA ]]; then
    [[ $DATA == gs://* ]] || die "--data must be a gs:// folder, got $DATA"
    data=" && gcloud storage rsync --recursive $(quote "${DATA%/}") $REMOTE_DIR/download"
  fi
  ssh_workers all "set -e; $source && $install && $fuse && $(mount_script)$data\
 && echo \"\$(hostname): ready, gs://$BUCKET_NAME mounted at $MOUNT\""
}

worker_start() {  # the detached start of `launch_tpu.sh worker` on a worker, for its shell
  local words=(worker --log-dir "$LOCAL_WORKDIR/logs" --run-id "$RUN_ID" --layout "$LAYOUT")
  if [[ $LAYOUT == host ]]; then words+=(--shard "${SHARD:-0/1}"); fi
  # setsid: the wrapper and the main command form one process group, which `stop` kills.
  printf '%s' "cd $REMOTE_DIR && { setsid nohup bash $REMOTE_DIR/launch_tpu.sh\
 $(quote_all "${words[@]}") -- $1 > /dev/null 2>&1 < /dev/null & echo \$! > $REMOTE_PID; }"
}

cmd_run() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  [[ -n $CONFIG ]] || die "no config: pass --config FILE[:ARG]"
  resolve_workdir
  if [[ -n $SHARD && ! $SHARD =~ ^[0-9]+/[0-9]+$ ]]; then
    die "--shard $SHARD: expected I/N, e.g. 0/4"
  fi
  [[ $LAYOUT == slice || $LAYOUT == host ]] || die "--layout $LAYOUT: expected slice or host"
  need_gcloud
  location
  RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
  local main
  if [[ $LAYOUT == host ]]; then  # every host adds its own part of --shard
    main=$(SHARD='' train_command ${EXTRA[@]+"${EXTRA[@]}"})
  else
    main=$(train_command ${EXTRA[@]+"${EXTRA[@]}"})
  fi
  local busy="if [ -f $REMOTE_PID ] && kill -0 \"\$(cat $REMOTE_PID)\" 2>/dev/null;"
  busy+=" then echo \"\$(hostname): a run is already going (launch_tpu.sh stop)\" >&2; exit 1; fi"
  local mounted
  mounted=$(mount_check)
  if [[ $FOREGROUND == 1 ]]; then
    ssh_workers all "$mounted; $busy; cd $REMOTE_DIR && $main 2>&1 | tee $REMOTE_LOG"
    return
  fi
  local start autostart
  start=$(worker_start "$main")
  # What the startup script runs at boot: mount the bucket, start the same run again.
  autostart=$(printf '#!/bin/bash\nset -e\n%s\n%s\n' "$(mount_script)" "$start" | base64 | tr -d '\n')
  if ! ssh_workers all "$mounted; $busy; echo $autostart | base64 -d > $REMOTE_AUTOSTART && $start\
 && echo \"\$(hostname): started run $RUN_ID, log in $REMOTE_LOG and $WORKDIR/logs/$RUN_ID/\""; then
    # All or nothing: the workers of a slice only run together.
    echo "launch_tpu.sh: a worker did not start run $RUN_ID; stopping it on every worker" >&2
    stop_workers || true
    return 1
  fi
}

stop_workers() {
  # SIGKILL to the run's process group: jax.distributed catches SIGTERM, and the next
  # run resumes exactly anyway. Then whatever still holds the TPU chips goes too.
  ssh_workers all "if [ -f $REMOTE_PID ] && { kill -9 -- -\"\$(cat $REMOTE_PID)\" 2>/dev/null\
 || kill -9 \"\$(cat $REMOTE_PID)\" 2>/dev/null; }; then echo \"\$(hostname): stopped\";\
 else echo \"\$(hostname): no run\"; fi; rm -f $REMOTE_PID $REMOTE_AUTOSTART; $(clear_tpu_script)"
}

cmd_stop() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  stop_workers
}

heartbeat() {  # heartbeat FILE WORKER STATE: "WORKER EPOCH-SECONDS TIME STATE", for watch
  printf '%s %s %s %s\n' "$2" "$(date -u +%s)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$3" \
    > "$1" 2>/dev/null || true
}

cmd_worker() {  # on a worker: the main command, its log, heartbeat and exit code in the bucket
  ((${#EXTRA[@]})) || die "worker: give the main command after --"
  [[ -n $LOG_DIR && -n $RUN_ID ]] || die "worker: --log-dir and --run-id are required"
  local index count
  index=$(tpu_metadata agent-worker-number)
  index=${index:-0}
  count=$(tpu_metadata worker-network-endpoints | tr ',' '\n' | grep -c . || true)
  ((count > 0)) || count=1
  local main=("${EXTRA[@]}")
  if [[ $LAYOUT == host ]]; then
    local shard=${SHARD:-0/1}
    main+=(--shard "$((${shard%/*} * count + index))/$((${shard#*/} * count))")
    # This host's chips as a slice of their own: one JAX process and no peers.
    export XLMR_TPU_WORKERS=1 TPU_PROCESS_BOUNDS=1,1,1 TPU_CHIPS_PER_PROCESS_BOUNDS=2,2,1
    export TPU_VISIBLE_CHIPS=0,1,2,3 TPU_PROCESS_PORT=8476 TPU_PROCESS_ADDRESSES=localhost:8476
    export CLOUD_TPU_TASK_ID=0
  else
    export XLMR_TPU_WORKERS=$count  # jax.distributed across the slice's hosts
  fi
  local dir=$LOG_DIR/$RUN_ID log=$HOME/xlmr-flax-run.log
  mkdir -p "$dir" 2>/dev/null || echo "launch_tpu.sh: cannot write $dir; logging locally only" >&2
  printf '=== run %s: worker %s of %s (%s), %s\n' "$RUN_ID" "$index" "$count" "$(hostname)" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$log"
  "${main[@]}" >> "$log" 2>&1 < /dev/null &
  local pid=$! code=0 waited
  while kill -0 "$pid" 2>/dev/null; do
    heartbeat "$dir/worker-$index.heartbeat" "$index" alive
    cp "$log" "$dir/worker-$index.log" 2>/dev/null || true
    # All or nothing: a worker that failed leaves the others hanging in collectives.
    for f in "$dir"/worker-*.exit; do
      if [[ -f $f && $(cat "$f") != 0 ]]; then
        echo "=== ${f##*/} says a worker failed: stopping" >> "$log"
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    waited=0
    while ((waited < HEARTBEAT)) && kill -0 "$pid" 2>/dev/null; do
      sleep 1
      waited=$((waited + 1))
    done
  done
  wait "$pid" || code=$?
  printf '=== exit %s, %s\n' "$code" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$log"
  cp "$log" "$dir/worker-$index.log" 2>/dev/null || true
  echo "$code" > "$dir/worker-$index.exit" 2>/dev/null || true
  heartbeat "$dir/worker-$index.heartbeat" "$index" exited
  if ((code == 0)); then rm -f "$HOME/xlmr-flax-autostart.sh"; fi  # done: nothing to resume
  return "$code"
}

queued_state() {  # the queued resource's state, or NOT_FOUND
  local state
  if state=$(gcloud compute tpus queued-resources describe "$NAME" "${LOCATION[@]}" \
    '--format=value(state.state)' 2>/dev/null); then
    printf '%s' "${state:-UNKNOWN}"
  else
    printf NOT_FOUND
  fi
}

silent_for() {  # silent_for RUN STARTED HOSTS: seconds since the stalest running worker's heartbeat
  local beats count oldest
  beats=$(gcloud storage cat "$WORKDIR/logs/$1/worker-*.heartbeat" 2>/dev/null || true)
  count=$(printf '%s\n' "$beats" | awk '$2 ~ /^[0-9]+$/' | wc -l)
  oldest=$(printf '%s\n' "$beats" | awk '$2 ~ /^[0-9]+$/ && $4 != "exited" {print $2}' |
    sort -n | head -n 1)
  if ((count < $3)); then
    oldest=$2  # a worker that has not beaten yet counts from the start of the run
  elif [[ -z $oldest ]]; then
    oldest=$(date -u +%s)  # every worker has exited: their exit codes tell the rest
  fi
  printf '%s' $(($(date -u +%s) - oldest))
}

cmd_watch() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  [[ -n $CONFIG ]] || die "no config: pass --config FILE[:ARG]"
  [[ $DRY_RUN != 1 ]] || die "watch acts on what it sees: it has no --dry-run (see create, run)"
  resolve_workdir
  [[ $MAX_RESTARTS =~ ^[0-9]+$ ]] || die "--max-restarts $MAX_RESTARTS: expected a count"
  need_gcloud
  location
  local hosts base=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)} restarts=0 installed='' running=''
  local started=0
  local deleted=''  # watch deleted the slice itself: its absence is expected
  hosts=$(hosts_of "$ACCELERATOR")
  say() { printf 'launch_tpu.sh watch: %s: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
  recover() {  # counts one recovery and waits, doubling the wait each time
    restarts=$((restarts + 1))
    if ((restarts > MAX_RESTARTS)); then
      say "giving up after $MAX_RESTARTS recoveries ($1); the workdir keeps all finished work"
      exit 1
    fi
    local wait=$((BACKOFF * (1 << (restarts - 1))))
    ((wait <= 3600)) || wait=3600
    say "$1; recovery $restarts of $MAX_RESTARTS in ${wait}s"
    sleep "$wait"
  }
  say "$NAME ($ACCELERATOR, $hosts worker(s)), study in $WORKDIR"
  while :; do
    local state
    state=$(queued_state)
    case $state in
      ACTIVE)
        if [[ -z $installed ]]; then
          say "ACTIVE: setting up every worker"
          if ! (cmd_setup); then
            recover "setup failed"
            continue
          fi
          installed=1
        fi
        if [[ -z $running ]]; then
          RUN_ID=$base-$restarts
          if (cmd_run); then
            running=$RUN_ID started=$(date -u +%s)
          else
            recover "run $RUN_ID did not start"
          fi
        else
          local codes done failed
          codes=$(gcloud storage cat "$WORKDIR/logs/$running/worker-*.exit" 2>/dev/null || true)
          done=$(printf '%s\n' "$codes" | grep -c '^0$' || true)
          failed=$(printf '%s\n' "$codes" | grep -c '^[1-9][0-9]*$' || true)
          if ((failed > 0)); then
            (stop_workers) || true
            running=''
            recover "run $RUN_ID failed on $failed worker(s)"
          elif ((done >= hosts)); then
            say "every worker finished run $running: the study is done"
            if [[ $KEEP == 1 ]]; then
              say "leaving $NAME (--keep)"
            else
              cmd_delete
            fi
            return 0
          else
            # A worker whose heartbeat stopped (a hung collective, a dead VM in a slice
            # still ACTIVE) never writes its exit code: stop the run and start it again.
            local silent
            silent=$(silent_for "$running" "$started" "$hosts")
            if ((silent > STALE)); then
              (stop_workers) || true
              running=''
              recover "run $RUN_ID: a worker has been silent for ${silent}s"
            fi
          fi
        fi
        ;;
      NOT_FOUND)
        if [[ -n $installed && -z $deleted ]]; then recover "the slice is gone"; fi
        say "creating $NAME"
        (cmd_create) || recover "create failed"
        installed='' running='' deleted=''
        ;;
      FAILED | SUSPENDED | SUSPENDING | PREEMPTED)
        # Spot capacity taken back, maintenance, or a request that cannot be met: the
        # slice will not come back by itself. Everything finished is in the bucket.
        say "$NAME is $state: deleting it to create it again"
        (cmd_delete) || true
        installed='' running='' deleted=1
        recover "$NAME was $state"
        ;;
      *) say "$NAME is $state" ;;  # WAITING_FOR_RESOURCES, ACCEPTED, PROVISIONING, DELETING, ...
    esac
    sleep "$POLL"
  done
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
    # Every worker's log, heartbeat and exit code, by run, in the bucket.
    run gcloud storage ls -l -r "$WORKDIR/logs/" ||
      echo "launch_tpu.sh: no logs in $WORKDIR/logs/ yet" >&2
  fi
}

cmd_fetch() {
  resolve_workdir
  need_gcloud
  local dest=${DEST:-results/${WORKDIR##*/}}
  run mkdir -p "$dest"
  run gcloud storage cp "$WORKDIR/results.jsonl" "$dest/results.jsonl"
  run gcloud storage rsync --recursive "$WORKDIR/report" "$dest/report"
  run gcloud storage rsync --recursive "$WORKDIR/logs" "$dest/logs"
}

cmd_delete() {
  need "$NAME" XLMR_TPU_NAME "--name NAME"
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need_gcloud
  location
  # --force deletes the TPU VMs first; --quiet skips the confirmation prompt.
  run gcloud compute tpus queued-resources delete "$NAME" "${LOCATION[@]}" --force --quiet
}

if ((${#EXTRA[@]})) && [[ $COMMAND != create && $COMMAND != run && $COMMAND != worker ]]; then
  die "arguments after -- go to \`create\` (gcloud) or \`run\` (python -m train) only"
fi

case $COMMAND in
  '' | help) usage ;;
  create | setup | run | watch | stop | status | fetch | delete | worker) "cmd_$COMMAND" ;;
  *) die "unknown command $COMMAND (see: launch_tpu.sh help)" ;;
esac
