# Sourced by tools/dist_train.sh, tools/dist_test.sh and tools/slurm_train.sh: the
# checks of their launch variables and the torchrun call on this node.

# positive_ints VAR...: exit 2 naming the first VAR that is not a positive integer
positive_ints() {
    local var
    for var in "$@"; do
        case "${!var}" in
            ''|*[!0-9]*|0) echo "error: $var must be a positive integer, got '${!var}'" >&2
                           exit 2 ;;
        esac
    done
}

# check_node_rank: NODE_RANK an integer in 0..NNODES-1
check_node_rank() {
    case "$NODE_RANK" in
        ''|*[!0-9]*) echo "error: NODE_RANK must be an integer, got '$NODE_RANK'" >&2
                     exit 2 ;;
    esac
    if [ "$NODE_RANK" -ge "$NNODES" ]; then
        echo "error: NODE_RANK ($NODE_RANK) must be in 0..$((NNODES - 1)) (NNODES=$NNODES)" >&2
        exit 2
    fi
}

# torchrun_node SCRIPT ARGS...: GPUS processes of SCRIPT on this node of NNODES,
# with the repository on PYTHONPATH
torchrun_node() {
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" -m torch.distributed.run \
        --nnodes="$NNODES" \
        --node_rank="$NODE_RANK" \
        --master_addr="$MASTER_ADDR" \
        --nproc_per_node="$GPUS" \
        --master_port="$PORT" \
        "$here/$1" "${@:2}"
}
