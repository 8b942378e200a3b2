#!/usr/bin/env bash
# Multi-process training with torchrun.
usage() {
    cat <<'USAGE'
usage: tools/dist_train.sh CONFIG GPUS [train.py args...]

Train CONFIG with GPUS processes on this node (torchrun); the remaining
arguments go to tools/train.py (see: python tools/train.py --help).
On a machine without GPUs the processes use the gloo backend on CPU.

environment:
  NNODES (1)  NODE_RANK (0)  MASTER_ADDR (127.0.0.1)  PORT (29500)  PYTHON (python)

example (2 nodes of 8 GPUs; run on each node with its NODE_RANK):
  NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 tools/dist_train.sh CONFIG 8
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -lt 2 ]; then
    echo "error: CONFIG and GPUS are required" >&2
    usage >&2
    exit 2
fi
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
here="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
. "$here/dist_common.sh"
positive_ints GPUS NNODES
check_node_rank

torchrun_node train.py "$CONFIG" --launcher pytorch "${@:3}"
