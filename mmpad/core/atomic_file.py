"""The one way mmpad writes a file atomically: into a hidden temporary file next to
it, renamed into place when complete. A reader (or a resumed run) never sees half a
file: a killed or failing writer leaves the old file, or none, and at most a hidden
``.tmp_<name>.<random>.part`` file that no ``*.txt`` / ``*.json`` / ``*.pth`` glob
picks up.

The file gets the permissions of an ordinary ``open(path, 'w')``: ``0o666`` minus
the process umask (``0644`` under umask 022, ``0600`` under 077). ``tempfile.mkstemp``
would create it ``0600`` whatever the umask, so data sets written on a shared
machine could not be read by the other users; it is not used here.

Used by the RoI files and proposals JSON of ``tools/generate_proposals.py``, the
MSIP tree of ``tools/build_msip.py`` and the adapter checkpoints
(``AdapterCheckpointHook``, ``tools/merge_adapter_checkpoint.py``).
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import secrets
from typing import IO, Any, Iterator, Optional

#: prefix and suffix of the temporary files (hidden, and matching no data glob)
TMP_PREFIX = '.tmp_'
TMP_SUFFIX = '.part'


def _create_temp(directory: str, name: str) -> tuple:
    """A new, empty temporary file for ``name`` in ``directory``: (fd, path).
    Mode ``0o666`` is passed to ``os.open``, so the kernel applies the umask as for
    any new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0)
    for _ in range(100):
        tmp = osp.join(directory, f'{TMP_PREFIX}{name}.{secrets.token_hex(4)}'
                                  f'{TMP_SUFFIX}')
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f'cannot create a temporary file for {name} in '
                          f'{directory}: 100 names taken')


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'w', encoding: Optional[str] = None,
                 fsync: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; when the ``with`` block
    ends without an exception it is renamed to ``path`` (``os.replace``), else it
    is removed and ``path`` is left as it was.

    Args:
        path: the file to write; its directory is created if needed.
        mode: ``'w'`` (text) or ``'wb'`` (bytes).
        encoding: text encoding (``'w'`` only); None = the locale's.
        fsync: flush the data to disk before the rename (a crash of the machine
            leaves the old file or the whole new one).

    Example::

        with atomic_write('out/rois.txt') as f:
            f.write('1,2,3,4\\n')
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = _create_temp(directory, osp.basename(path))
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_atomic(obj: Any, path: str) -> None:
    """``torch.save(obj)`` to ``path`` with :func:`atomic_write` (synced to disk
    before the rename: a crash leaves the old file)."""
    import torch
    with atomic_write(path, 'wb', fsync=True) as f:
        torch.save(obj, f)


def copy_atomic(src: str, dst: str) -> None:
    """Copy the bytes of ``src`` to ``dst`` with :func:`atomic_write`."""
    import shutil
    with open(src, 'rb') as fin, atomic_write(dst, 'wb') as fout:
        shutil.copyfileobj(fin, fout)
