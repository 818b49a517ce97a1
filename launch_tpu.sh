#!/usr/bin/env bash
# A thin front over Ray's cluster launcher and job API for xlmr-flax studies on spot
# Cloud TPU VMs: the cluster is configs/cluster/tpu.yaml, Ray creates, scales,
# retries and deletes; this script only spells the commands. Walk-through: docs/tpu.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: launch_tpu.sh COMMAND [options] [-- arguments for python -m train]

commands
  up       stage the checked-out commit (git archive HEAD), make sure a Ray token
           exists (~/.ray/auth_token), make the region's own network and the
           cluster's firewall rule if missing (gcloud), render configs/cluster/tpu.yaml
           for this cluster into .cluster/NAME/cluster.yaml, and `ray up` it: an
           on-demand CPU head; spot TPU workers come and go with the work. Refused
           while a study job runs on the cluster (Ray would restart under it): wait
           for it (logs --follow) or `stop` it first
  submit   the study as a Ray job, submitted on the head over SSH (`ray exec`):
           python -m train --config CONFIG --workdir /mnt/gcs/BUCKET/PATH
           --executor ray --ray-address auto --layout chip --topology TYPE
           (TYPE: the first of --accelerators) [arguments after --]
  status   delete the cluster's preempted spot TPU VMs (Ray never does; --dry-run
           lists them), then Ray's cluster status and jobs, and the study's
           done/pending/failed counts (the last line of `python -m train ... --dry-run`,
           read from the bucket)
  logs     the study job's output (--job ID, default the last submitted; --follow)
  stop     stop the study job (`ray job stop`; --job ID, default the last submitted);
           its finished stages and checkpoints stay in the bucket
  fetch    copy WORKDIR/results.jsonl and WORKDIR/report/ from the bucket
  down     `ray down`: delete the head and every TPU worker, then the preempted
           TPU VMs `ray down` does not see (the bucket stays)
  help     this text

settings (flag, or environment variable)
  --name NAME          XLMR_TPU_NAME          cluster name (default xlmr)
  --zone ZONE          XLMR_TPU_ZONE          e.g. us-central2-b (up)
  --project PROJECT    XLMR_TPU_PROJECT       default: gcloud's configured project
  --bucket BUCKET      XLMR_TPU_BUCKET        the study's bucket, mounted at /mnt/gcs/BUCKET
  --accelerators LIST  XLMR_TPU_ACCELERATORS  TPU types the cluster may create: single-host,
                                              one generation (default v4-8; of v4-8,
                                              v5litepod-8, v6e-8: one the zone offers)
  --on-demand                                 TPU workers on demand instead of spot
  --ssh-user USER      XLMR_TPU_SSH_USER      OS Login user (default ubuntu: Ray's own key)
  --ssh-key FILE       XLMR_TPU_SSH_KEY       OS Login: your registered private key
  --config FILE[:ARG]                         experiment config (submit, status, fetch)
  --workdir URL        XLMR_TPU_WORKDIR       gs://BUCKET/PATH (default gs://BUCKET/runs/<config
                                              file name>); the nodes see /mnt/gcs/BUCKET/PATH
  --job ID                                    logs, stop: the Ray job (submission id)
  --follow                                    logs: keep printing until the job ends
  --dest DIR                                  fetch: local folder (default results/<workdir name>)
  --dry-run            XLMR_TPU_DRY_RUN=1     print the commands, one per line, run nothing
                                              (status lists the cluster's TPU VMs to say
                                              which it would delete: read only)

examples
  export XLMR_TPU_ZONE=us-central2-b XLMR_TPU_BUCKET=my-bucket
  ./launch_tpu.sh up --accelerators v4-8
  ./launch_tpu.sh submit --config configs/xtreme_r_sequencing.py
  ./launch_tpu.sh status --config configs/xtreme_r_sequencing.py
  ./launch_tpu.sh logs --follow
  ./launch_tpu.sh fetch --config configs/xtreme_r_sequencing.py
  ./launch_tpu.sh down
USAGE
}

die() {
  printf 'launch_tpu.sh: %s\n' "$*" >&2
  exit 2
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=${XLMR_TPU_NAME:-xlmr}
ZONE=${XLMR_TPU_ZONE:-}
PROJECT=${XLMR_TPU_PROJECT:-}
BUCKET=${XLMR_TPU_BUCKET:-}
ACCELERATORS=${XLMR_TPU_ACCELERATORS:-v4-8}
SSH_USER=${XLMR_TPU_SSH_USER:-ubuntu}
SSH_KEY=${XLMR_TPU_SSH_KEY:-}
WORKDIR=${XLMR_TPU_WORKDIR:-}
DRY_RUN=${XLMR_TPU_DRY_RUN:-0}
PYTHON=${XLMR_TPU_PYTHON:-python}  # the local Python with this project and ray installed
ON_DEMAND=0
FOLLOW=0
CONFIG=''
JOB=''
DEST=''
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
    --bucket | --bucket=*) BUCKET=$(value_of --bucket "$@") ;;
    --accelerators | --accelerators=*) ACCELERATORS=$(value_of --accelerators "$@") ;;
    --ssh-user | --ssh-user=*) SSH_USER=$(value_of --ssh-user "$@") ;;
    --ssh-key | --ssh-key=*) SSH_KEY=$(value_of --ssh-key "$@") ;;
    --config | --config=*) CONFIG=$(value_of --config "$@") ;;
    --workdir | --workdir=*) WORKDIR=$(value_of --workdir "$@") ;;
    --job | --job=*) JOB=$(value_of --job "$@") ;;
    --dest | --dest=*) DEST=$(value_of --dest "$@") ;;
    --on-demand) ON_DEMAND=1 taken=0 ;;
    --follow) FOLLOW=1 taken=0 ;;
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

# What `up` renders and stages (.cluster/ is ignored by git).
CLUSTER_DIR=${XLMR_TPU_CLUSTER_DIR:-$ROOT/.cluster/$NAME}
CLUSTER=$CLUSTER_DIR/cluster.yaml
# Every remote command: the nodes' environment and Ray's token authentication.
REMOTE_ENV='export RAY_AUTH_MODE=token PATH="$HOME/venv/bin:$PATH";'
JOB_API=http://127.0.0.1:8265  # the head's loopback: reached only from the head itself
# Study jobs not yet ended (pending or running), as JSON, asked on the head.
LIST_LIVE_JOBS=(ray list jobs --filter 'status!=SUCCEEDED' --filter 'status!=FAILED'
  --filter 'status!=STOPPED' --format json)
# This checkout's modules for the local Python (render, node types, preempted VMs).
LOCAL_PYTHON=(env "PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON")

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

need_program() {  # need_program NAME HOW-TO-GET-IT
  [[ $DRY_RUN == 1 ]] || command -v "$1" >/dev/null 2>&1 ||
    die "$1 is not on PATH: $2, or use --dry-run to see the commands"
}

need_cluster() {  # the rendered config of NAME, which every command but up and fetch needs
  need_program ray 'pip install "ray[default]==2.60.0" google-api-python-client'
  [[ $DRY_RUN == 1 || -f $CLUSTER ]] ||
    die "no cluster $NAME here ($CLUSTER is missing): \`launch_tpu.sh up\` writes it"
}

resolve_workdir() {  # WORKDIR (gs://BUCKET/PATH) and REMOTE_WORKDIR (/mnt/gcs/BUCKET/PATH)
  if [[ -z $WORKDIR ]]; then
    need "$BUCKET" XLMR_TPU_BUCKET "--bucket BUCKET"
    [[ -n $CONFIG ]] || die "--config FILE is needed to name the workdir (or pass --workdir)"
    local file=${CONFIG%%:*}
    file=${file##*/}
    WORKDIR=gs://${BUCKET#gs://}/runs/${file%.py}
  fi
  [[ $WORKDIR =~ ^gs://[a-z0-9][-_.a-z0-9]*[a-z0-9](/[^/]+)+/?$ ]] ||
    die "--workdir $WORKDIR: expected gs://BUCKET/PATH"
  WORKDIR=${WORKDIR%/}
  REMOTE_WORKDIR=/mnt/gcs/${WORKDIR#gs://}
}

on_head() {  # on_head WORDS...: one command on the head, over SSH, in the nodes' environment
  run ray exec "$CLUSTER" "$REMOTE_ENV cd ~/xlmr-flax && $(quote_all "$@")"
}

live_jobs() {  # LIVE: the submission ids of the cluster's live study jobs ('' if none)
  LIVE=''
  [[ -f $CLUSTER ]] || return 0  # never `up` from here: no head to ask
  if [[ $DRY_RUN == 1 ]]; then
    run ray get-head-ip "$CLUSTER"
    run ray exec "$CLUSTER" "$REMOTE_ENV $(quote_all "${LIST_LIVE_JOBS[@]}")"
    return 0
  fi
  ray get-head-ip "$CLUSTER" >/dev/null 2>&1 || return 0  # no head: nothing runs
  local listed
  if ! listed=$(ray exec "$CLUSTER" "$REMOTE_ENV $(quote_all "${LIST_LIVE_JOBS[@]}")"); then
    printf 'launch_tpu.sh: warning: no job list from the head (Ray not running there?)\n' >&2
    return 0
  fi
  if grep -q '"status":' <<<"$listed"; then
    LIVE=$(grep -o '"submission_id": *"[^"]*"' <<<"$listed" | cut -d'"' -f4 | sort -u |
      paste -sd, -)
    LIVE=${LIVE:-a driver not submitted as a job}
  fi
}

ensure() {  # ensure 'GROUP' NAME 'SCOPE FLAGS' CREATE-FLAGS...: gcloud creates it if missing
  local -a group scope
  read -ra group <<<"$1"
  read -ra scope <<<"$3"
  local describe=(gcloud "${group[@]}" describe "$2" "--project=$PROJECT" "${scope[@]}")
  local create=(gcloud "${group[@]}" create "$2" "--project=$PROJECT" "${scope[@]}" "${@:4}")
  if [[ $DRY_RUN == 1 ]]; then
    printf '%s >/dev/null 2>&1 || %s\n' "$(quote_all "${describe[@]}")" "$(quote_all "${create[@]}")"
  elif ! "${describe[@]}" >/dev/null 2>&1; then
    "${create[@]}"
  fi
}

ensure_network() {  # the region's own network; Ray's ports open to this cluster's nodes only
  local region=${ZONE%-*}
  local network=xlmr-ray-$region  # configs/cluster/render.py: network_name, network_tag
  ensure "compute networks" "$network" "" --subnet-mode=custom
  ensure "compute networks subnets" "$network" "--region=$region" "--network=$network" \
    --range=10.130.0.0/20 --enable-private-ip-google-access
  ensure "compute firewall-rules" "$network-iap-ssh" "" "--network=$network" \
    --direction=INGRESS --action=allow --rules=tcp:22 --source-ranges=35.235.240.0/20
  ensure "compute firewall-rules" "$network-$NAME" "" "--network=$network" \
    --direction=INGRESS --action=allow --rules=all "--source-tags=ray-$NAME" \
    "--target-tags=ray-$NAME"
  ensure "compute routers" "$network" "--region=$region" "--network=$network"
  ensure "compute routers nats" "$network" "--router=$network --region=$region" \
    --auto-allocate-nat-external-ips --nat-all-subnet-ip-ranges
}

train_command() {  # TRAIN: the study's main command as the head runs it
  TRAIN=(python -m train --config "$CONFIG" --workdir "$REMOTE_WORKDIR" "$@")
}

cmd_up() {
  need "$ZONE" XLMR_TPU_ZONE "--zone ZONE"
  need "$BUCKET" XLMR_TPU_BUCKET "--bucket BUCKET"
  need_program ray 'pip install "ray[default]==2.60.0" google-api-python-client'
  need_program git 'install git'
  need_program gcloud 'install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)'
  if [[ -z $PROJECT ]]; then
    PROJECT=$(gcloud config get-value project 2>/dev/null || true)
    need "$PROJECT" XLMR_TPU_PROJECT "--project PROJECT (or gcloud config set project)"
  fi
  # `ray up` on a live head restarts Ray (the driver dies with it); with --no-restart it
  # still syncs the new commit and reruns setup on every node under the study.
  live_jobs
  if [[ -n $LIVE ]]; then
    die "cluster $NAME is running study job $LIVE: \`up\` would restart Ray under it;" \
      "wait for it (./launch_tpu.sh logs --name $NAME --follow) or stop it first" \
      "(./launch_tpu.sh stop --name $NAME), or make another cluster (--name)"
  fi
  local commit
  commit=$(git -C "$ROOT" rev-parse HEAD)
  if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no) ]]; then
    printf 'launch_tpu.sh: warning: uncommitted changes are not installed;' >&2
    printf ' the nodes get commit %s (commit first to run them)\n' "$commit" >&2
  fi
  # The committed files of HEAD and a COMMIT file naming it (xlmr_flax/provenance.py).
  run rm -rf "$CLUSTER_DIR/src"
  run mkdir -p "$CLUSTER_DIR/src"
  if [[ $DRY_RUN == 1 ]]; then
    printf '%s | %s\n' "$(quote_all git -C "$ROOT" archive "$commit")" \
      "$(quote_all tar -x -C "$CLUSTER_DIR/src")"
    printf '%s > %s\n' "$(quote_all echo "$commit")" "$(quote "$CLUSTER_DIR/src/COMMIT")"
  else
    git -C "$ROOT" archive "$commit" | tar -x -C "$CLUSTER_DIR/src"
    echo "$commit" >"$CLUSTER_DIR/src/COMMIT"
  fi
  # The cluster's shared secret: made once on this machine, copied to every node.
  if [[ ! -s $HOME/.ray/auth_token ]]; then
    if [[ $DRY_RUN == 1 ]]; then
      printf '%s > /dev/null\n' "$(quote_all ray get-auth-token --generate)"
    else
      ray get-auth-token --generate >/dev/null  # prints the token: keep it off the screen
    fi
  fi
  local render=("${LOCAL_PYTHON[@]}" -m configs.cluster.render --name "$NAME" --project "$PROJECT"
    --zone "$ZONE" --bucket "${BUCKET#gs://}" --source "$CLUSTER_DIR/src"
    --token "$HOME/.ray/auth_token" --accelerators "$ACCELERATORS" --ssh-user "$SSH_USER"
    --out "$CLUSTER")
  if [[ -n $SSH_KEY ]]; then render+=(--ssh-key "$SSH_KEY"); fi
  if ((ON_DEMAND)); then render+=(--on-demand); fi
  run "${render[@]}" || exit 2  # its one-line error names the setting
  ensure_network
  run ray up --yes "$CLUSTER"
}

cmd_submit() {
  [[ -n $CONFIG ]] || die "submit needs --config FILE[:ARG]"
  resolve_workdir
  need_cluster
  # A study runs on its cluster's TPU generation: a --topology of another is refused.
  local i topology=()
  for ((i = 0; i < ${#EXTRA[@]}; i++)); do
    case ${EXTRA[i]} in
      --topology=*) topology+=(--topology "${EXTRA[i]#*=}") ;;
      --topology) topology+=(--topology "${EXTRA[i + 1]:-}") ;;
    esac
  done
  if ((${#topology[@]})) && [[ -f $CLUSTER ]]; then
    "${LOCAL_PYTHON[@]}" -m configs.cluster.node_types "$CLUSTER" "${topology[@]}" >/dev/null ||
      exit 2  # its one line names what mismatched
  fi
  local id
  id=${NAME}-$(date -u +%Y%m%d-%H%M%S)
  # The layout the planner recommends (docs/tpu.md, 4): a stage per chip, each train step
  # in the least micro-batches that fit a chip of the first accelerator type.
  train_command --executor ray --ray-address auto --layout chip --topology "${ACCELERATORS%%,*}" \
    "${EXTRA[@]}"
  # Submitted on the head (its job API listens there only), over Ray's SSH connection.
  on_head ray job submit --address "$JOB_API" --submission-id "$id" --no-wait \
    -- "cd ~/xlmr-flax && $(quote_all "${TRAIN[@]}")"
  if [[ $DRY_RUN != 1 ]]; then echo "$id" >>"$CLUSTER_DIR/jobs"; fi
  echo "submitted $id: ./launch_tpu.sh logs --name $NAME --job $id --follow" >&2
}

reclaim_preempted() {  # this cluster's PREEMPTED/TERMINATED TPU VMs, deleted (or listed)
  local sweep=("${LOCAL_PYTHON[@]}" -m configs.cluster.preempted --cluster-config "$CLUSTER"
    --via gcloud)
  if [[ $DRY_RUN != 1 ]]; then
    need_program gcloud 'install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)'
    "${sweep[@]}" || die "could not list or delete the cluster's preempted TPU VMs (above)"
  elif [[ -f $CLUSTER ]] && command -v gcloud >/dev/null 2>&1; then
    "${sweep[@]}" --dry-run || true  # a read-only listing: what the real run would delete
  else
    run "${sweep[@]}"
  fi
}

cmd_status() {
  need_cluster
  reclaim_preempted
  on_head ray status
  on_head ray job list --address "$JOB_API"
  if [[ -n $CONFIG ]]; then
    resolve_workdir
    train_command --dry-run
    # The plan's last line: one JSON object of counts (done, pending, failed, ...).
    run ray exec "$CLUSTER" "$REMOTE_ENV cd ~/xlmr-flax && $(quote_all "${TRAIN[@]}") | tail -n 1"
  fi
}

last_job() {  # JOB: --job, or the last job submitted from here
  if [[ -z $JOB && -s $CLUSTER_DIR/jobs ]]; then JOB=$(tail -n 1 "$CLUSTER_DIR/jobs"); fi
  [[ -n $JOB ]] || die "no job submitted from here: pass --job ID (see: launch_tpu.sh status)"
}

cmd_stop() {
  need_cluster
  last_job
  on_head ray job stop --address "$JOB_API" "$JOB"
}

cmd_logs() {
  need_cluster
  last_job
  local follow=()
  if ((FOLLOW)); then follow=(--follow); fi
  on_head ray job logs --address "$JOB_API" "${follow[@]}" "$JOB"
}

cmd_fetch() {
  resolve_workdir
  need_program gcloud 'install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)'
  local dest=${DEST:-results/${WORKDIR##*/}}
  run mkdir -p "$dest"
  run gcloud storage cp "$WORKDIR/results.jsonl" "$dest/results.jsonl"
  run gcloud storage rsync --recursive "$WORKDIR/report" "$dest/report"
}

cmd_down() {
  need_cluster
  run ray down --yes "$CLUSTER"
  reclaim_preempted  # `ray down` does not see them
}

if ((${#EXTRA[@]})) && [[ $COMMAND != submit ]]; then
  die "arguments after -- go to \`submit\` (python -m train) only"
fi

case $COMMAND in
  '' | help) usage ;;
  up | submit | status | logs | stop | fetch | down) "cmd_$COMMAND" ;;
  *) die "unknown command $COMMAND (see: launch_tpu.sh help)" ;;
esac
