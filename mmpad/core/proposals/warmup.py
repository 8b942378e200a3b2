"""Fill numba's on-disk cache with mmpad's proposal kernels.

The kernels (Felzenszwalb, LBP, grouping) are compiled on their first call and
kept in numba's cache: next to the sources (``__pycache__``) where that folder is
writable, else in the user-wide cache (``~/.cache/numba`` or ``$NUMBA_CACHE_DIR``).
A cold cache costs about 20 s of compilation in the first process that generates
proposals; a filled one about 1 s. ``tools/install_env.sh`` runs this module once
after installing mmpad; for another install run it yourself, as the user who will
generate proposals (or with the ``NUMBA_CACHE_DIR`` they will use)::

    python -m mmpad.core.proposals.warmup
"""
from __future__ import annotations

import time
from typing import List

import numpy as np


def warm_up() -> float:
    """Compile (or load) every kernel with the argument types real calls use.

    Returns:
        The seconds it took.
    """
    from mmpad.core.proposals.generate import PRESETS
    from mmpad.core.proposals.search import selective_search
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    gray = np.repeat(colour[..., :1], 3, axis=2)
    for p in PRESETS.values():
        for image in (gray, colour):
            selective_search(image, p.scale, p.sigma, p.min_size, p.texture_range)
    return time.perf_counter() - t0


def cache_dirs() -> List[str]:
    """Where the kernels' cache files are (empty without numba)."""
    from mmpad.core.proposals import felzenszwalb, grouping, lbp
    dirs = []
    for fn in (felzenszwalb._kernel, felzenszwalb._extract, lbp._kernel, grouping._kernel):
        cache = getattr(fn, '_cache', None)
        path = getattr(cache, '_cache_path', None)
        if path and path not in dirs:
            dirs.append(path)
    return dirs


def main() -> int:
    try:
        import numba  # noqa: F401
    except ImportError:
        print('numba is not installed: proposals use scikit-image (nothing to compile)')
        return 0
    seconds = warm_up()
    print(f'proposal kernels compiled or loaded in {seconds:.1f} s; cache: '
          + ', '.join(cache_dirs()))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
