#!/usr/bin/env bash
# Build / download, for Python 3.12 on x86-64, the wheels that the GPU machine lacks
# for `import mmpad.pretrain`: mmengine 0.10.7, mmpretrain 1.2.0, mmcv 2.1.0 built
# without compiled ops (MMCV_WITH_OPS=0, distribution name mmcv-lite) and the
# pure-Python packages they need that the machine's image does not hold. torch,
# numpy, opencv, matplotlib, rich, einops, pyyaml, pillow, ... are there already and
# are not carried. Output: benchmarks/gpu/wheels/ (git-ignored), < 60 MiB.
#
#   benchmarks/gpu/build_wheels.sh            # needs PyPI and a python3.12
#   PY312=/path/to/python3.12 benchmarks/gpu/build_wheels.sh
#   benchmarks/gpu/build_wheels.sh --check    # also install them into a fresh
#                                             # 3.12 venv with --no-index and import
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WHEELS=${WHEELS:-$HERE/wheels}
PY312=${PY312:-$(command -v python3.12 2>/dev/null || true)}
if [ -z "$PY312" ] || ! "$PY312" -c 'import sys; assert sys.version_info[:2] == (3, 12)' \
        2>/dev/null; then
    for p in "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
        [ -x "$p" ] && PY312=$p
    done
fi
if [ -z "$PY312" ] || [ ! -x "$PY312" ]; then
    echo "build_wheels.sh: no python3.12 found; set PY312=/path/to/python3.12" >&2
    exit 2
fi
TMP=$(mktemp -d /tmp/mmpad_wheels.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$WHEELS" && mkdir -p "$WHEELS"

# Pure-Python wheels, pinned; with --no-deps, so every needed one is named here.
#   mmengine -> addict, termcolor, yapf (-> platformdirs); pkg_resources (setuptools
#   < 82) for mmengine's package look-ups (`mmpretrain::` config bases)
#   mmpretrain -> importlib-metadata, mat4py, modelindex (-> model-index ->
#   ordered-set; click, markdown, pyyaml are on the machine)
PINS=(mmengine==0.10.7 mmpretrain==1.2.0 addict==2.4.0 termcolor==3.3.0
      yapf==0.43.0 platformdirs==4.14.9 "setuptools==81.0.0" importlib-metadata==8.7.0
      mat4py==0.6.0 modelindex==0.0.2 model-index==0.1.11 ordered-set==4.1.0)
"$PY312" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform any \
    -d "$WHEELS" "${PINS[@]}"

# mmcv 2.1.0 has no wheel on PyPI: build the sdist without ops (pure Python, so no
# torch is needed to build it); its setup.py imports pkg_resources.
"$PY312" -m venv "$TMP/build"
"$TMP/build/bin/pip" install -q "setuptools>=77,<82" wheel
"$TMP/build/bin/pip" download -q --no-deps --no-binary :all: -d "$TMP/sdist" mmcv==2.1.0
MMCV_WITH_OPS=0 "$TMP/build/bin/pip" wheel -q --no-build-isolation --no-deps \
    -w "$WHEELS" "$TMP"/sdist/mmcv-2.1.0.tar.gz
if unzip -l "$WHEELS"/mmcv_lite-2.1.0-*.whl | grep -q '\.so$'; then
    echo "build_wheels.sh: the mmcv wheel holds compiled ops; expected none" >&2
    exit 1
fi

echo "wheels in $WHEELS:"
ls -l "$WHEELS" | awk 'NR > 1 {printf "  %9.1f KiB  %s\n", $5 / 1024, $9}'
total=$(du -sb "$WHEELS" | cut -f1)
echo "total $(awk -v b="$total" 'BEGIN {printf "%.2f", b / 2^20}') MiB (limit 60 MiB)"
if [ "$total" -ge $((60 * 1024 * 1024)) ]; then
    echo "build_wheels.sh: the wheels exceed 60 MiB" >&2
    exit 1
fi

if [ "${1:-}" = "--check" ]; then
    # A fresh 3.12 venv holding what the GPU machine's image holds (from PyPI), then
    # the carried wheels with --no-index, resolved with their dependencies.
    # opencv-python is what mmengine / mmcv declare; the machine has the headless
    # build, which the --no-deps install there does not ask about.
    "$PY312" -m venv "$TMP/check"
    "$TMP/check/bin/pip" install -q numpy matplotlib pyyaml rich opencv-python \
        packaging pillow einops zipp click markdown
    "$TMP/check/bin/pip" install -q --no-index --find-links "$WHEELS" \
        mmengine mmpretrain mmcv-lite setuptools
    "$TMP/check/bin/python" - <<'EOF'
import importlib.metadata as md
for name in ('mmengine', 'mmcv-lite', 'mmpretrain', 'addict', 'yapf', 'termcolor',
             'mat4py', 'modelindex', 'model-index', 'importlib-metadata'):
    print(f'  installed {name} {md.version(name)}')
import addict, yapf, termcolor, mat4py, modelindex, pkg_resources  # noqa
print('check: resolved with --no-index; pure-Python imports work '
      '(torch-dependent imports: run_pad_gpu.sh --tiny)')
EOF
fi
