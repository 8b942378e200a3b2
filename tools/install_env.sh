#!/usr/bin/env bash
# Create (or refresh) the project virtualenv with the pinned OpenMMLab stack.
#
#   tools/install_env.sh            # uses $VENV (default .venv)
#
# Environment knobs:
#   VENV          virtualenv path (default: .venv)
#   PYTHON        interpreter used to create it (default: python3.11, else python3)
#   TORCH_SPEC    pip spec for torch/torchvision (default: "torch==2.14.1 torchvision==0.29.1");
#                 GPU users with another CUDA pass e.g. TORCH_SPEC="torch==2.4.1 torchvision==0.19.1"
#                 and TORCH_INDEX_URL=https://download.pytorch.org/whl/cu121
#   MMPAD_CACHE   where the compiled mmcv wheel is kept (default: ~/.cache/mmpad)
#   MAX_JOBS      parallel compile jobs for mmcv (default: nproc)
#
# The script is idempotent: a stamp file records what was installed, and a second run
# returns in about a second when nothing changed. The mmcv wheel is compiled once per
# (mmcv version, torch version, python version) and reused from $MMPAD_CACHE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

VENV="${VENV:-.venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"
MMCV_VERSION="${MMCV_VERSION:-2.1.0}"
MMPAD_CACHE="${MMPAD_CACHE:-$HOME/.cache/mmpad}"
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

log() { printf '[install_env] %s\n' "$*"; }

stamp_inputs() {
  cat requirements/runtime.txt requirements/tests.txt requirements/lint.txt requirements/mim.txt setup.py _mmpad_pkgmap.py
  echo "$TORCH_SPEC|$TORCH_INDEX_URL|$MMCV_VERSION"
}
want_stamp="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
stamp_file="$VENV/.mmpad-env-stamp"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want_stamp" ]; then
  log "environment $VENV is up to date"
  exit 0
fi

t0=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
pip() { "$py" -m pip "$@"; }
pip install -q --upgrade pip "setuptools<82" wheel ninja

# --- torch -------------------------------------------------------------------------
log "installing $TORCH_SPEC"
if [ -n "$TORCH_INDEX_URL" ]; then
  # shellcheck disable=SC2086
  pip install -q $TORCH_SPEC --index-url "$TORCH_INDEX_URL"
else
  # shellcheck disable=SC2086
  pip install -q $TORCH_SPEC
fi
torch_ver="$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
py_tag="$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
cuda_tag="$("$py" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')"

# --- mmcv with compiled ops, built once and cached -----------------------------------
wheel_dir="$MMPAD_CACHE/wheels/mmcv-$MMCV_VERSION-torch-$torch_ver-$py_tag-$cuda_tag"
if "$py" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with ops for torch $torch_ver ($cuda_tag); this happens once (~16 min on 2 cores)"
    build="$(mktemp -d)"
    pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17.
    if "$py" - <<'PY'
import sys, torch
major, minor = (int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
sys.exit(0 if (major, minor) >= (2, 10) else 1)
PY
    then
      sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
      log "patched mmcv setup.py: -std=c++17 -> -std=c++20"
    fi
    mkdir -p "$wheel_dir"
    (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$OLDPWD/$py" -m pip wheel --no-build-isolation --no-deps -w "$wheel_dir" . ) \
      || { log "mmcv build failed (sources kept in $src)"; rm -rf "$wheel_dir"; exit 1; }
    rm -rf "$build"
  else
    log "reusing cached mmcv wheel from $wheel_dir"
  fi
  pip install -q --no-deps "$wheel_dir"/mmcv-*.whl
  # mmcv's own runtime requirements (no-deps install above).
  pip install -q addict packaging Pillow pyyaml yapf "opencv-python<4.11" "numpy<2"
fi

# --- the rest of the stack and mmpad itself -----------------------------------------
log "installing OpenMMLab packages and test requirements"
# openmim's own requirements (requirements/mim.txt) in the same resolution, so that
# its pandas respects the stack's numpy<2; then openmim without opendatalab/openxlab
# (their setuptools~=60.2.0 pin would downgrade setuptools below torch's >=77)
pip install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/lint.txt -r requirements/mim.txt
pip install -q --no-deps "openmim==0.3.9"
# editable install: also puts mmpad-pkgmap.pth into site-packages (mmpad:: configs)
pip install -q --no-deps --no-build-isolation -e .

# setuptools must stay in [77, 82): torch's cpp_extension needs >= 77, mmengine's and
# mim's package lookups need pkg_resources (gone in 82).
if ! "$py" - <<'PY'
import sys
from importlib.metadata import version
v = version('setuptools')
major = int(v.split('.')[0])
if not 77 <= major < 82:
    sys.exit(f'[install_env] setuptools {v} is installed; mmpad needs >=77,<82 '
             '(something downgraded or upgraded it: pip install "setuptools>=77,<82")')
PY
then
  exit 1
fi

"$py" - <<'PY'
import os.path as osp, sys
import _mmpad_pkgmap  # installed with mmpad-pkgmap.pth by the editable install
if _mmpad_pkgmap._PatchingFinder not in sys.meta_path:
    sys.exit('[install_env] mmpad-pkgmap.pth did not run: mmpad:: configs will not resolve')
from mmengine.utils import get_installed_path
if not osp.isfile(osp.join(get_installed_path('mmpad'), '.mim', 'model-index.yml')):
    sys.exit('[install_env] mmpad/.mim/model-index.yml is missing: mim and mmpad:: need it')
import torch, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain
print('[install_env] torch', torch.__version__, '| mmcv', mmcv.__version__,
      '| mmengine', mmengine.__version__, '| mmdet', mmdet.__version__,
      '| mmseg', mmseg.__version__, '| mmpretrain', mmpretrain.__version__)
PY
# compile the proposal kernels into numba's cache (first proposal call ~1 s, not ~20 s)
"$py" -m mmpad.core.proposals.warmup
echo "$want_stamp" > "$stamp_file"
log "done in $(( $(date +%s) - t0 )) s; venv size $(du -sh "$VENV" | cut -f1)"
