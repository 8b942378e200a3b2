"""The checkpoint error family: every checkpoint problem mmpad reports is a
:class:`CheckpointError` whose message names the file.

::

    CheckpointError                      any checkpoint problem
    ├── CheckpointLoadError              (also RuntimeError) the file cannot be read
    │   ├── CorruptCheckpointError       truncated, damaged, not a torch checkpoint
    │   └── UnsafeCheckpointError        asks the unpickler for a refused global
    └── CheckpointContentError           (also ValueError) read, but not what is needed
        ├── CheckpointMismatchError      does not fit the model it is loaded into
        └── CheckpointConversionError    not the kind of checkpoint a converter takes

``ConversionError`` (:mod:`mmpad.sop.convert`) is :class:`CheckpointConversionError`.
"""
from __future__ import annotations

from typing import Optional


class CheckpointError(Exception):
    """A checkpoint mmpad cannot use; the message names the file."""


class CheckpointLoadError(CheckpointError, RuntimeError):
    """A checkpoint that cannot be loaded; the message names the file.

    Attributes:
        filename: the checkpoint's path.
        problem: what is wrong, on one line.
        refused: the refused global (:class:`UnsafeCheckpointError`), or None.
    """

    def __init__(self, filename: str, problem: str,
                 refused: Optional[str] = None) -> None:
        self.filename = str(filename)
        self.problem = ' '.join(str(problem).split())  # always one line
        self.refused = refused
        super().__init__(f'checkpoint {self.filename}: {self.problem}')


class CorruptCheckpointError(CheckpointLoadError):
    """Truncated, damaged (checksum mismatch) or not a torch checkpoint."""


class UnsafeCheckpointError(CheckpointLoadError):
    """The file asks the unpickler for something mmpad does not admit."""


class CheckpointContentError(CheckpointError, ValueError):
    """The file was read but does not hold what is needed (no checkpoint dict,
    no tensors, no key under the requested prefix)."""


class CheckpointMismatchError(CheckpointContentError):
    """A checkpoint that does not fit the model; the message names the file."""


class CheckpointConversionError(CheckpointContentError):
    """The checkpoint is not of the kind a converter takes (or cannot be
    converted as asked); the message names the file."""
