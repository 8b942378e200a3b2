"""MSIP RoI files: <subset>/roi/<stem>.txt, one "x,y,w,h" line per box."""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from mmpad.core.atomic_file import atomic_write


#: largest |value| accepted in a RoI line (int32: any real image coordinate; larger
#: numbers are garbage and would overflow int64 arithmetic or numpy conversion)
MAX_ROI_VALUE = 2**31 - 1


class RoIFileError(ValueError):
    """A RoI file that cannot be used; the message names the file and the problem."""


def parse_roi_text(text: str, path: str = '<string>') -> Tuple[np.ndarray, List[str]]:
    """Parse RoI lines; blank lines are ignored, bad lines are reported, not fatal.

    A line is good when it is four comma-separated integers ``x,y,w,h`` with
    ``w, h >= 0`` and every ``|value| <= MAX_ROI_VALUE``; anything else (other
    column counts, floats, NaN, text, overflowing numbers, negative sizes) is a
    bad line.

    Returns:
        ``(rois, problems)``: (N, 4) int64 ``x, y, w, h`` of the good lines, and one
        ``"<path>:<line>: <problem>"`` message per bad line.
    """
    rois, problems = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(',')]
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            vals = None
        if vals is None or len(vals) != 4:
            problems.append(f'{path}:{lineno}: expected 4 comma-separated integers '
                            f'"x,y,w,h", got {line[:60]!r}')
            continue
        if any(abs(v) > MAX_ROI_VALUE for v in vals):
            problems.append(f'{path}:{lineno}: value out of range (|v| > '
                            f'{MAX_ROI_VALUE}) in {line[:60]!r}')
            continue
        if vals[2] < 0 or vals[3] < 0:
            problems.append(f'{path}:{lineno}: negative width or height in '
                            f'{line[:60]!r}')
            continue
        rois.append(vals)
    return np.asarray(rois, np.int64).reshape(-1, 4), problems


def read_roi_file(path: str, strict: bool = False) -> Tuple[np.ndarray, List[str]]:
    """Read one RoI file.

    Args:
        path: the ``.txt`` file.
        strict: raise :class:`RoIFileError` on the first bad line instead of
            skipping it.

    Returns:
        ``(rois, problems)`` as :func:`parse_roi_text`.

    Raises:
        FileNotFoundError: the file does not exist.
        RoIFileError: the file is not UTF-8 text, or (strict) has a bad line.
    """
    try:
        with open(path, 'rb') as f:
            # utf-8-sig: a byte-order mark (Windows tools) would spoil line 1
            text = f.read().decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise RoIFileError(f'{path}: not a text RoI file ({e})') from e
    rois, problems = parse_roi_text(text, path)
    if strict and problems:
        raise RoIFileError(problems[0])
    return rois, problems


def write_roi_file(path: str, rects: np.ndarray) -> None:
    """Write ``x,y,w,h`` lines atomically (a killed writer leaves no partial file;
    at most a hidden ``.tmp_*.part`` file, which no ``*.txt`` reader picks up),
    with the permissions the umask gives (:mod:`mmpad.core.atomic_file`)."""
    rects = np.asarray(rects, np.int64).reshape(-1, 4)
    with atomic_write(path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{x},{y},{w},{h}\n' for x, y, w, h in rects.tolist()))
