#!/usr/bin/env bash
# Multi-process evaluation with torchrun.
usage() {
    cat <<'USAGE'
usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]

Evaluate CHECKPOINT with CONFIG in GPUS processes on this node (torchrun); the
remaining arguments go to tools/test.py (see: python tools/test.py --help).
On a machine without GPUs the processes use the gloo backend on CPU.

environment:
  NNODES (1)  NODE_RANK (0)  MASTER_ADDR (127.0.0.1)  PORT (29500)  PYTHON (python)
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -lt 3 ]; then
    echo "error: CONFIG, CHECKPOINT and GPUS are required" >&2
    usage >&2
    exit 2
fi
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
here="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
. "$here/dist_common.sh"
positive_ints GPUS NNODES
check_node_rank

torchrun_node test.py "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
