"""Local binary patterns (8 neighbours, radius 1), bit-compatible with scikit-image.

``skimage.feature.local_binary_pattern(image, 8, 1.0)`` ('default' method) samples the
8 neighbours with bilinear interpolation (constant-0 border) at offsets rounded to 5
decimals and sets bit i when ``neighbour_i - centre >= 0``. The numba kernel below
performs the same floating-point operations in the same order; without numba the
scikit-image function is used.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

try:  # optional accelerator
    import numba
except ImportError:  # pragma: no cover
    numba = None

_P = 8
_RP = np.round(-1.0 * np.sin(2 * np.pi * np.arange(_P, dtype=np.double) / _P), 5)
_CP = np.round(1.0 * np.cos(2 * np.pi * np.arange(_P, dtype=np.double) / _P), 5)


def _lbp_kernel(image, rp, cp):  # pragma: no cover (jitted)
    rows, cols = image.shape
    out = np.empty((rows, cols), np.uint8)
    for r in range(rows):
        for c in range(cols):
            centre = image[r, c]
            code = 0
            for i in range(8):
                y = r + rp[i]
                x = c + cp[i]
                minr = int(math.floor(y))
                minc = int(math.floor(x))
                maxr = int(math.ceil(y))
                maxc = int(math.ceil(x))
                dr = y - minr
                dc = x - minc
                tl = image[minr, minc] if 0 <= minr < rows and 0 <= minc < cols else 0.0
                tr = image[minr, maxc] if 0 <= minr < rows and 0 <= maxc < cols else 0.0
                bl = image[maxr, minc] if 0 <= maxr < rows and 0 <= minc < cols else 0.0
                br = image[maxr, maxc] if 0 <= maxr < rows and 0 <= maxc < cols else 0.0
                top = (1 - dc) * tl + dc * tr
                bottom = (1 - dc) * bl + dc * br
                v = (1 - dr) * top + dr * bottom
                if v - centre >= 0:
                    code += 1 << i
            out[r, c] = code
    return out


_kernel = None


def _get_kernel():
    global _kernel
    if _kernel is None:
        from mmpad.core.proposals.felzenszwalb import jit
        _kernel = jit(_lbp_kernel)
    return _kernel


def lbp8(channel: np.ndarray) -> np.ndarray:
    """LBP codes of one channel.

    Args:
        channel: (H, W) array (any real dtype; used as float64).

    Returns:
        (H, W) int64 codes in 0..255, equal to scikit-image's
        ``local_binary_pattern(channel, 8, 1.0)``.
    """
    image = np.ascontiguousarray(channel, dtype=np.float64)
    if numba is None:
        from skimage.feature import local_binary_pattern
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return local_binary_pattern(image, 8, 1.0).astype(np.int64)
    return _get_kernel()(image, _RP, _CP).astype(np.int64)
