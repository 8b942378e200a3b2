#!/usr/bin/env bash
# PAD on one GPU, in one go (benchmarks/gpu/README.md): install the carried wheels
# (benchmarks/gpu/build_wheels.sh) into a temporary target, check the stack, then
#   bench_b256 / bench_b512    benchmarks/bench_pad.py --device cuda --amp, MAE ViT-B
#                              (batch 512 also finds the largest batch, doubling)
#   data                       tools/generate_demo_data.py --layouts msip + RoI files
#                              (tools/generate_proposals.py --preset pad)
#   train_fp16 / train_bf16    tools/train.py, PAD-MAE ViT-B (gpu-check config), ~280 its
#   loader                     benchmarks/gpu/bench_loader.py, 1 and 16 workers
#   bench_l256 / bench_l512    bench_pad.py for MAE ViT-L (last: the first to be cut)
# each under `timeout` (a failing step does not stop the others), then
# benchmarks/gpu/summarize.py -> $OUT/results.json and $OUT/summary.md, with
# $OUT/run.log (every step's output) and $OUT/raw.tar.gz (the raw records and logs).
#
#   benchmarks/gpu/run_pad_gpu.sh            # on the GPU machine; OUT is set there
#   benchmarks/gpu/run_pad_gpu.sh --tiny     # CPU dry run: every step, tiny sizes
#
# Environment: OUT (default work_dirs/gpu_out), PY (default python3), WORK (scratch,
# default a new /tmp folder), WHEELS (default benchmarks/gpu/wheels), BUDGET_S (the
# whole run's seconds, default 540, --tiny 1800; a step gets min(its own limit, what
# is left); a step left with under 15 s is skipped, recorded with exit status 125),
# ONLY (a comma list of steps to run, e.g. ONLY=train_fp16,train_bf16 for a rerun;
# install and stack always run; data runs with a training or loader step).
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
MODE=gpu
for a in "$@"; do
    case "$a" in
        --tiny) MODE=tiny ;;
        *) echo "run_pad_gpu.sh: unknown argument $a (only --tiny)" >&2; exit 2 ;;
    esac
done
PY=${PY:-python3}
OUT=${OUT:-$REPO/work_dirs/gpu_out}
WORK=${WORK:-$(mktemp -d /tmp/mmpad_gpu.XXXXXX)}
WHEELS=${WHEELS:-$REPO/benchmarks/gpu/wheels}
# --tiny on a shared CPU: every limit x 4 and 30 minutes (it catches script errors;
# its times mean nothing)
if [ "$MODE" = tiny ]; then SLOW=4; BUDGET_S=${BUDGET_S:-1800}; else SLOW=1; fi
BUDGET_S=${BUDGET_S:-540}
mkdir -p "$OUT" "$WORK"
LOG=$OUT/run.log
: > "$LOG"
: > "$WORK/steps.tsv"
T_START=$(date +%s)
case ",${ONLY:-}," in *,train_*|*,loader,*) ONLY="$ONLY,data" ;; esac
export PYTHONUNBUFFERED=1 MMPAD_GPU_MODE=$MODE PYTHONWARNINGS=ignore

say() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - T_START ))s] $*" | tee -a "$LOG"; }

# step NAME LIMIT_S CMD...: run CMD under timeout, log it, record rc and seconds
step() {
    local name=$1 limit=$2; shift 2
    if [ -n "${ONLY:-}" ] && [ "$name" != install ] && [ "$name" != stack ] \
            && [[ ",$ONLY," != *",$name,"* ]]; then
        return
    fi
    local left=$(( BUDGET_S - ($(date +%s) - T_START) - 20 ))  # 20 s: summary
    if [ "$left" -lt 15 ]; then
        say "SKIP $name: ${left}s left of the ${BUDGET_S}s budget"
        printf '%s\t%s\t%s\n' "$name" 125 0 >> "$WORK/steps.tsv"
        return
    fi
    limit=$(( limit * SLOW ))
    [ "$limit" -gt "$left" ] && limit=$left
    say "BEGIN $name (limit ${limit}s): $*"
    local t0; t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" >> "$LOG" 2>&1
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" >> "$WORK/steps.tsv"
    say "END $name rc=$rc ($(( $(date +%s) - t0 ))s)"
}

# ------------------------------------------------------------------ the stack
SITE=$WORK/site
say "mode=$MODE repo=$REPO work=$WORK out=$OUT python=$($PY -V 2>&1)"
if ! ls "$WHEELS"/*.whl > /dev/null 2>&1; then
    say "no wheels in $WHEELS: run benchmarks/gpu/build_wheels.sh first"
    exit 2
fi
step install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --target "$SITE" "$WHEELS"/*.whl
export PYTHONPATH=$REPO:$REPO/benchmarks/gpu:$SITE
step stack 60 "$PY" - "$WORK/stack.json" <<'EOF'
import json, platform, sys, warnings
import torch, mmengine, mmcv, mmpretrain
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import mmpad, mmpad.pretrain  # noqa: F401  (mmcv-lite: det / seg not registered)
import importlib.util
info = dict(python=platform.python_version(), torch=torch.__version__,
            cuda=torch.version.cuda, mmengine=mmengine.__version__,
            mmcv=mmcv.__version__, mmpretrain=mmpretrain.__version__,
            mmpad=mmpad.__version__, mmcv_ops=importlib.util.find_spec('mmcv._ext') is not None,
            device=torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu',
            mmpad_warnings=[str(w.message) for w in caught if 'mmcv' in str(w.message)])
print(json.dumps(info, indent=1))
json.dump(info, open(sys.argv[1], 'w'), indent=1)
EOF
if [ "$(tail -1 "$WORK/steps.tsv" | cut -f2)" != 0 ]; then
    say "the stack does not import; see $LOG"
fi

# ------------------------------------------------------------------ sizes
if [ "$MODE" = gpu ]; then
    BENCH=(--device cuda --amp --steps 10 --warmup 3)
    B1=256; B2=512; MAXB=8192; ARCH_B=b; ARCH_L=l
    TRAIN_CFG=benchmarks/gpu/pad-mae_vit-base-p16_gpu-check.py
    TRAIN_OPTS=(train_dataloader.batch_size=16 train_dataloader.num_workers=8
                custom_hooks.0.ratio=0.3)
    LOADER=(--workers 1,16 --batch 256 --batches 6 --warmup 2)
    NPROC=$(nproc)
else
    BENCH=(--device cpu --steps 1 --warmup 0)
    B1=1; B2=2; MAXB=4; ARCH_B=s; ARCH_L=s
    TRAIN_CFG=benchmarks/gpu/pad-mae_vit-base-p16_cpu-dry-run.py
    TRAIN_OPTS=(train_dataloader.batch_size=4 train_dataloader.num_workers=2
                train_dataloader.dataset.data_ratio=0.08 train_cfg.max_epochs=3
                param_scheduler.0.end=1 param_scheduler.1.begin=1
                param_scheduler.1.end=3 param_scheduler.1.T_max=2
                custom_hooks.0.ratio=0.3 custom_hooks.1.interval=2)
    LOADER=(--workers 0,2 --batch 4 --batches 2 --warmup 1)
    NPROC=2
fi

# ------------------------------------------------------------------ a. model speed
step bench_b256 150 "$PY" benchmarks/bench_pad.py "${BENCH[@]}" --archs "$ARCH_B" \
    --batch "$B1" --json-out "$WORK/bench_b$B1.json"
step bench_b512 200 "$PY" benchmarks/bench_pad.py "${BENCH[@]}" --archs "$ARCH_B" \
    --batch "$B2" --max-batch "$MAXB" --json-out "$WORK/bench_b$B2.json"

# ------------------------------------------------------------------ b. training
DATA=$WORK/data
step data 90 bash -c "'$PY' tools/generate_demo_data.py '$DATA' --layouts msip && \
    '$PY' tools/generate_proposals.py --msip '$DATA/msip' --preset pad --workers $NPROC"
for prec in fp16 bf16; do
    extra=()
    [ "$prec" = bf16 ] && [ "$MODE" = gpu ] && extra=(optim_wrapper.dtype=bfloat16)
    step "train_$prec" 110 "$PY" tools/train.py "$TRAIN_CFG" \
        --work-dir "$WORK/train_$prec" --cfg-options \
        train_dataloader.dataset.data_root="$DATA/msip/" "${TRAIN_OPTS[@]}" "${extra[@]}"
done

# ------------------------------------------------------------------ c. data loading
step loader 60 "$PY" benchmarks/gpu/bench_loader.py "$TRAIN_CFG" \
    --data-root "$DATA/msip/" "${LOADER[@]}" --json-out "$WORK/loader.json"

# ------------------------------------------------------------------ ViT-L, last
step bench_l256 120 "$PY" benchmarks/bench_pad.py "${BENCH[@]}" --archs "$ARCH_L" \
    --batch "$B1" --json-out "$WORK/bench_l$B1.json"
step bench_l512 120 "$PY" benchmarks/bench_pad.py "${BENCH[@]}" --archs "$ARCH_L" \
    --batch "$B2" --json-out "$WORK/bench_l$B2.json"

# ------------------------------------------------------------------ summary
"$PY" benchmarks/gpu/summarize.py "$WORK" "$OUT" >> "$LOG" 2>&1 \
    || say "summarize.py failed"
# the raw records and the training logs (no model checkpoints)
tar -czf "$OUT/raw.tar.gz" -C "$WORK" --exclude='*.pth' --exclude=site --exclude=data \
    --exclude='*/vis_data/events*' . 2>> "$LOG"
say "done: $(ls "$OUT" | tr '\n' ' ')"
cat "$OUT/summary.md" 2>/dev/null
