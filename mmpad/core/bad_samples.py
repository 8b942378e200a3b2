"""One place where every bad input file is reported, warned about and counted.

A data set on disk is never perfectly clean: truncated or zero-byte images, text files
with an image extension, 16-bit PNGs, images too small for the crop, RoI files with
garbage lines, proposal boxes outside the image. Every loader in mmpad that meets one
calls :func:`report`, which

* with ``strict=True`` raises :class:`BadSampleError` (the message names the file and
  the problem), so that the run stops on the first bad file;
* otherwise logs **one** warning per (file, kind) on the ``'current'`` MMLogger and
  counts it, so that the caller can skip (or clean, or convert) the sample and go on.

Counts and the "already warned" set live in shared memory created when this module
is imported, so that they are shared by the DataLoader workers that the main process
forks afterwards (``fork`` is the default start method on Linux, and mmengine's):
a file is warned about once per run whatever worker meets it, every epoch, and the
main process (:class:`~mmpad.engine.hooks.bad_sample_logger_hook.BadSampleLoggerHook`)
reads the totals. With the ``spawn`` / ``forkserver`` start methods every worker
re-imports this module and gets its own memory: warnings are then once per worker
process and the main process only sees what it reported itself (e.g. proposal files
read at start-up).

Kinds and what the caller does with the sample (:data:`KINDS`):

========================  ==========  =============================================
kind                      action      meaning
========================  ==========  =============================================
``unreadable``            skipped     the file is missing or cannot be read (OSError)
``empty_file``            skipped     zero bytes
``not_an_image``          skipped     unknown header and no decoder accepts it
``truncated``             skipped     JPEG without end marker, PNG without IEND, ...
``corrupt``               skipped     a known image header but broken structure,
                                      garbage image data or the decoder fails
``too_small``             skipped     smaller than the loader's ``min_size``
``too_large``             skipped     more pixels than the loader's ``max_pixels``
``load_error``            skipped     any other error while loading (MSIPDataset)
``high_bit_depth``        converted   a 16-bit image rescaled to 8 bits
``bad_roi_file``          cleaned     an unreadable RoI file: no RoIs for the image
``bad_roi_lines``         cleaned     RoI lines that are not ``x,y,w,h``: ignored
``bad_proposals``         cleaned     proposal boxes clipped to / dropped from images
========================  ==========  =============================================

File names that are not valid UTF-8 (``os.listdir`` gives them with lone
surrogates) are written with ``\\xNN`` escapes for their bad bytes
(:func:`printable`), so the warning reaches every log handler.

Two numbers are kept per kind: ``files`` (distinct files reported; deterministic) and
``events`` (every report: a skipped file drawn again in the next epoch counts again;
for RoI lines and proposals, the number of lines / boxes).
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import threading
from collections import OrderedDict
from typing import Dict, Optional, Set

import numpy as np
from mmengine.logging import print_log

#: kind -> what happens to the sample: 'skipped', 'converted' or 'cleaned'
KINDS: 'OrderedDict[str, str]' = OrderedDict([
    ('unreadable', 'skipped'),
    ('empty_file', 'skipped'),
    ('not_an_image', 'skipped'),
    ('truncated', 'skipped'),
    ('corrupt', 'skipped'),
    ('too_small', 'skipped'),
    ('too_large', 'skipped'),
    ('load_error', 'skipped'),
    ('high_bit_depth', 'converted'),
    ('bad_roi_file', 'cleaned'),
    ('bad_roi_lines', 'cleaned'),
    ('bad_proposals', 'cleaned'),
])
ACTIONS = ('skipped', 'converted', 'cleaned')
_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}

#: distinct (file, kind) pairs remembered in shared memory; beyond that, warnings
#: are de-duplicated per process only (and ``files`` may count a file once per worker)
CAPACITY = 1 << 16
_LOCK_TIMEOUT_S = 5.0


def printable(text: object) -> str:
    """``text`` as a string every log handler can encode: bytes that are not
    UTF-8 (lone surrogates from ``surrogateescape``, as ``os.listdir`` returns
    them; ``bytes`` paths) become ``\\xNN`` escapes."""
    if isinstance(text, bytes):
        return text.decode('utf-8', 'backslashreplace')
    text = str(text)
    try:
        text.encode('utf-8')
        return text
    except UnicodeEncodeError:
        raw = text.encode('utf-8', 'surrogateescape') if _only_escapes(text) \
            else text.encode('utf-8', 'backslashreplace')
        return raw.decode('utf-8', 'backslashreplace')


def _only_escapes(text: str) -> bool:
    """Every lone surrogate is one of surrogateescape's (U+DC80..U+DCFF)."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF
               for c in text)


class BadSampleError(RuntimeError):
    """A bad input file met with ``strict=True``; the message names the file and the
    problem."""

    def __init__(self, path: str, problem: Optional[str] = None,
                 kind: Optional[str] = None) -> None:
        # one-argument form (a ready message): what pickling between processes and
        # torch's DataLoader re-raising of worker errors call
        self.path = path if problem is not None else None
        self.problem = problem
        self.kind = kind
        super().__init__(printable(path) if problem is None else
                         f'bad sample {printable(path)}: {printable(problem)}')

    def __reduce__(self):
        if self.problem is None:
            return type(self), self.args
        return type(self), (self.path, self.problem, self.kind)


class _SharedState:
    """Counters and a hash set of (kind, path) in memory shared with forked children.

    Layout: ``counts[2 * k]`` files and ``counts[2 * k + 1]`` events of kind ``k``;
    ``table`` an open-addressing hash set of 64-bit digests (0 = empty slot).
    """

    def __init__(self) -> None:
        ctx = mp.get_context()
        self.lock = ctx.Lock()
        self._counts_raw = mp.RawArray('q', 2 * len(KINDS))
        self._table_raw = mp.RawArray('q', CAPACITY)
        self._used_raw = mp.RawValue('q', 0)
        # set when the lock could not be taken (a process died holding it): from
        # then on every process de-duplicates on its own and never waits again
        self._broken = mp.RawValue('b', 0)
        self.counts = np.frombuffer(self._counts_raw, dtype=np.int64)
        self.table = np.frombuffer(self._table_raw, dtype=np.int64)
        # fallback when the shared table is full or the lock cannot be taken
        self.local_seen: Set[int] = set()
        self.local_lock = threading.Lock()

    @staticmethod
    def digest(kind: str, path: str) -> int:
        h = int.from_bytes(hashlib.blake2b(f'{kind}\0{path}'.encode(
            'utf-8', 'surrogatepass'), digest_size=8).digest(), 'little',
            signed=True)
        return h or 1

    def _insert(self, h: int) -> bool:
        """Add ``h``; True if it was new. Call with the lock held."""
        n = CAPACITY
        i = h % n
        for _ in range(n):
            v = int(self.table[i])
            if v == h:
                return False
            if v == 0:
                if self._used_raw.value >= n - n // 8:  # keep probing short
                    break
                self.table[i] = h
                self._used_raw.value += 1
                return True
            i = (i + 1) % n
        with self.local_lock:  # table full: per-process de-duplication
            if h in self.local_seen:
                return False
            self.local_seen.add(h)
            return True

    def add(self, kind: str, path: str, n: int) -> bool:
        """Count a report; True if (kind, path) was not reported before."""
        h = self.digest(kind, path)
        k = _KIND_INDEX[kind]
        if self._take_lock():
            try:
                new = self._insert(h)
                self.counts[2 * k + 1] += n
                if new:
                    self.counts[2 * k] += 1
            finally:
                self.lock.release()
            return new
        with self.local_lock:
            new = h not in self.local_seen
            self.local_seen.add(h)
        self.counts[2 * k + 1] += n
        if new:
            self.counts[2 * k] += 1
        return new

    def _take_lock(self) -> bool:
        if self._broken.value:
            return False
        if self.lock.acquire(timeout=_LOCK_TIMEOUT_S):
            return True
        # a process died holding the lock: never block training on bookkeeping
        self._broken.value = 1
        print_log('mmpad.core.bad_samples: the shared lock is stuck (a '
                  'DataLoader worker died holding it); bad files are now warned '
                  'about once per process and counts may be approximate',
                  logger='current', level=30)
        return False

    def reset(self) -> None:
        locked = self._take_lock()
        try:
            self.counts[:] = 0
            self.table[:] = 0
            self._used_raw.value = 0
        finally:
            if locked:
                self.lock.release()
        with self.local_lock:
            self.local_seen.clear()


_STATE = _SharedState()


def report(path: str, problem: str, strict: bool = False, kind: str = 'load_error',
           n: int = 1, source: Optional[str] = None) -> bool:
    """Report a bad input file.

    Args:
        path: the file (an image, a RoI file, a proposals JSON).
        problem: what is wrong with it, in words (no path needed).
        strict: raise :class:`BadSampleError` instead of warning and counting.
        kind: one of :data:`KINDS`.
        n: how many events this report stands for (bad lines, bad boxes).
        source: the reporting class, prefixed to the warning.

    Returns:
        True if this call logged the warning (the first report of this file and
        kind in the run), False if it was only counted.

    Raises:
        BadSampleError: with ``strict=True``.
    """
    if kind not in KINDS:
        raise ValueError(f'bad_samples.report: unknown kind {kind!r}; '
                         f'choose from {list(KINDS)}')
    path = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    if strict:
        raise BadSampleError(path, problem, kind)
    new = _STATE.add(kind, path, int(n))
    if new:
        action = KINDS[kind]
        what = {'skipped': 'skipping bad sample',
                'converted': 'converted',
                'cleaned': 'cleaned bad entries of'}[action]
        prefix = f'{source}: ' if source else ''
        print_log(printable(f'{prefix}{what} {path}: {problem} [{kind}; warned '
                            f'once per file, counted every time]'),
                  logger='current', level=30)
    return new


def counts() -> Dict[str, object]:
    """Totals since import (or :func:`reset`), as seen from this process.

    Returns:
        ``{'skipped': files, 'converted': files, 'cleaned': files,
        'bad_files': skipped + cleaned, 'skip_events': times a sample was skipped,
        'files': {kind: n}, 'events': {kind: n}}`` (only kinds with a report in
        ``files`` / ``events``).
    """
    c = _STATE.counts.copy()
    files = {k: int(c[2 * i]) for i, k in enumerate(KINDS) if c[2 * i]}
    events = {k: int(c[2 * i + 1]) for i, k in enumerate(KINDS) if c[2 * i + 1]}
    out: Dict[str, object] = {a: 0 for a in ACTIONS}
    skip_events = 0
    for k, v in files.items():
        out[KINDS[k]] += v
    for k, v in events.items():
        if KINDS[k] == 'skipped':
            skip_events += v
    out['bad_files'] = out['skipped'] + out['cleaned']
    out['skip_events'] = skip_events
    out['files'] = files
    out['events'] = events
    return out


def summary() -> str:
    """One line for the log, e.g. ``bad data: 3 files skipped (truncated 2,
    empty_file 1; 7 skips in all), 1 file converted (high_bit_depth 1), 1 file
    cleaned (bad_roi_lines 1: 4 entries)``; ``bad data: none`` when nothing was reported."""
    c = counts()
    files, events = c['files'], c['events']
    if not files:
        return 'bad data: none'
    parts = []
    for action in ACTIONS:
        kinds = [k for k in KINDS if KINDS[k] == action and k in files]
        if not kinds:
            continue
        if action == 'cleaned':
            detail = ', '.join(f'{k} {files[k]}: {events[k]} entries' for k in kinds)
        else:
            detail = ', '.join(f'{k} {files[k]}' for k in kinds)
        if action == 'skipped':
            detail += f'; {c["skip_events"]} skips in all'
        noun = 'file' if c[action] == 1 else 'files'
        head = f'{c[action]} {noun} {action}'
        parts.append(f'{head} ({detail})')
    return 'bad data: ' + ', '.join(parts)


def reset() -> None:
    """Zero the counts and forget which files were warned about (tests, or a
    second run in the same process)."""
    _STATE.reset()


__all__ = ['BadSampleError', 'KINDS', 'report', 'counts', 'summary', 'reset',
           'printable']
