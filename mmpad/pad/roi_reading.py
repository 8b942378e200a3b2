"""Reading one RoI file with its problems reported through
:mod:`mmpad.core.bad_samples` (used by ``MSIPDataset(load_rois=True)`` and by
``ObjectSensitiveRandomRoICrop``, which reads the files lazily)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from mmpad.core import bad_samples
from mmpad.core.proposals.roi_file import RoIFileError, read_roi_file


def read_rois_reported(path: str, strict: bool, source: str,
                       fallback: str) -> Tuple[Optional[np.ndarray], int]:
    """Read ``path`` (``x,y,w,h`` lines).

    An unreadable file is reported as ``bad_roi_file`` and gives ``None``; lines
    that are not ``x,y,w,h`` are reported once as ``bad_roi_lines`` (with their
    count and the first one) and ignored. ``strict`` raises
    :class:`~mmpad.core.bad_samples.BadSampleError` naming the file (and line).

    Args:
        path: the RoI file, which must exist.
        strict: raise instead of reporting and going on.
        source: the caller's name, in the warning.
        fallback: what happens to the image without RoIs, for the warning.

    Returns:
        ``(rois, n_bad_lines)``: an (N, 4) int64 array, or ``None`` when the file
        could not be read.
    """
    try:
        rois, problems = read_roi_file(path)
    except (RoIFileError, OSError, ValueError, OverflowError, MemoryError) as e:
        err = str(e) if isinstance(e, (RoIFileError, OSError)) else \
            f'{type(e).__name__}: {e}'
        path = str(path)
        err = err[len(path) + 2:] if err.startswith(f'{path}: ') else err
        msg = f'unreadable RoI file ({err})'
        bad_samples.report(path, msg if strict else f'{msg}; {fallback}',
                           strict=strict, kind='bad_roi_file', source=source)
        return None, 0
    if problems:
        # problems[0] is "<path>:<line>: <what>"
        first = problems[0][len(path) + 1:] if problems[0].startswith(path) \
            else problems[0]
        msg = f'bad RoI line {first}' if strict else \
            f'{len(problems)} bad RoI line(s) ignored, the first: line {first}'
        bad_samples.report(path, msg, strict=strict, kind='bad_roi_lines',
                           n=len(problems), source=source)
    return rois, len(problems)
