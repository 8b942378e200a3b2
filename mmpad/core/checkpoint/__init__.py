"""Checkpoint I/O for the whole project, host-free.

* :mod:`.errors`: the one error family (:class:`CheckpointError` and its kinds);
* :mod:`.loading`: loading that cannot run code, CRC-32 verification, and
  mmengine's loaders routed through it (installed when this package is
  imported, once per process);
* :mod:`.reader`: the one reader: :func:`read_checkpoint`, :func:`read_state_dict`;
* :mod:`.report`: the one report type, :class:`CheckpointReport`;
* :mod:`.compat`: does a state dict fit a model, with the adapter-size rules;
* :mod:`.pretrained`: a backbone's weights out of any checkpoint layout;
* :mod:`.resume`: which checkpoint ``--resume`` continues from.
"""
from mmpad.core.checkpoint.compat import (check_against_config,
                                          check_checkpoint_compatible)
from mmpad.core.checkpoint.errors import (CheckpointContentError,
                                          CheckpointConversionError,
                                          CheckpointError, CheckpointLoadError,
                                          CheckpointMismatchError,
                                          CorruptCheckpointError,
                                          UnsafeCheckpointError)
from mmpad.core.checkpoint.loading import (install_safe_checkpoint_loading,
                                           torch_load_checked,
                                           verify_checkpoint)
from mmpad.core.checkpoint.reader import read_checkpoint, read_state_dict
from mmpad.core.checkpoint.report import CheckpointReport

# every entry path (import mmpad, mmpad.pretrain / det / seg, a tool, a test)
# imports this package before it reads a checkpoint: mmengine's loaders are
# routed through the safe loader here, once (the call is idempotent)
install_safe_checkpoint_loading()

__all__ = ['install_safe_checkpoint_loading', 'torch_load_checked',
           'verify_checkpoint', 'read_checkpoint', 'read_state_dict',
           'CheckpointReport', 'CheckpointError', 'CheckpointLoadError',
           'CorruptCheckpointError', 'UnsafeCheckpointError',
           'CheckpointContentError', 'CheckpointMismatchError',
           'CheckpointConversionError', 'check_checkpoint_compatible',
           'check_against_config']
