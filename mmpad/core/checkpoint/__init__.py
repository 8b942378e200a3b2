"""Checkpoint I/O for the whole project, host-free.

* :mod:`.loading`: the one reader: loading that cannot run code, CRC-32
  verification, and mmengine's loaders routed through it;
* :mod:`.compat`: does a state dict fit a model, with the adapter-size rules;
* :mod:`.pretrained`: a backbone's weights out of any checkpoint layout;
* :mod:`.resume`: which checkpoint ``--resume`` continues from.
"""
from mmpad.core.checkpoint.compat import (CheckpointMismatchError,
                                          check_checkpoint_compatible)
from mmpad.core.checkpoint.loading import (CheckpointLoadError,
                                           CorruptCheckpointError,
                                           UnsafeCheckpointError,
                                           install_safe_checkpoint_loading,
                                           torch_load_checked,
                                           verify_checkpoint)

__all__ = ['install_safe_checkpoint_loading', 'torch_load_checked',
           'verify_checkpoint', 'CheckpointLoadError', 'CorruptCheckpointError',
           'UnsafeCheckpointError', 'CheckpointMismatchError',
           'check_checkpoint_compatible']
