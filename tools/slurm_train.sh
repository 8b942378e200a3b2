#!/usr/bin/env bash
# Slurm training.
usage() {
    cat <<'USAGE'
usage: [GPUS=16] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]

Train CONFIG on the Slurm partition PARTITION with srun, one task per GPU,
logs and checkpoints in WORK_DIR; the remaining arguments go to tools/train.py
(see: python tools/train.py --help).

environment:
  GPUS (8)  GPUS_PER_NODE (GPUS, at most 8)  CPUS_PER_TASK (5)  SRUN_ARGS ("")
  PYTHON (python)  MASTER_PORT (29500: rank 0's port on the first node)
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -lt 4 ]; then
    echo "error: PARTITION, JOB_NAME, CONFIG and WORK_DIR are required" >&2
    usage >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/dist_common.sh"
positive_ints GPUS  # checked first: the default GPUS_PER_NODE is computed from it
# a job of fewer than 8 GPUs asks for only the GPUs it uses on its node
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
positive_ints GPUS_PER_NODE CPUS_PER_TASK
set -x

PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$here/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" --launcher="slurm" "${@:5}"
