"""Host-free core shared by every method: the patchwise-scale adapter
(:mod:`.adapters`), checkpoint I/O (:mod:`.checkpoint`), selective-search
proposals (:mod:`.proposals`), bad-data tracking (:mod:`.bad_samples`,
:mod:`.image_check`), layer-decay depths (:mod:`.layer_decay`), argument and
config checks. Nothing here imports mmpretrain, mmdet or mmseg.
"""
from mmpad.core.checkpoint import (CheckpointLoadError, CheckpointMismatchError,
                                   CorruptCheckpointError,
                                   UnsafeCheckpointError,
                                   check_checkpoint_compatible,
                                   install_safe_checkpoint_loading,
                                   torch_load_checked, verify_checkpoint)
from mmpad.core.config_check import ConfigError, check_config

__all__ = ['install_safe_checkpoint_loading', 'torch_load_checked',
           'verify_checkpoint', 'CheckpointLoadError', 'CorruptCheckpointError',
           'UnsafeCheckpointError', 'CheckpointMismatchError',
           'check_checkpoint_compatible', 'ConfigError', 'check_config']
