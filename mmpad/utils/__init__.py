from .checkpoint import (CheckpointLoadError, CorruptCheckpointError,
                         UnsafeCheckpointError, install_safe_checkpoint_loading,
                         torch_load_checked, verify_checkpoint)
from .config_check import ConfigError, check_config

__all__ = ['install_safe_checkpoint_loading', 'torch_load_checked',
           'verify_checkpoint', 'CheckpointLoadError', 'CorruptCheckpointError',
           'UnsafeCheckpointError',
           'ConfigError', 'check_config']
from .checkpoint_compat import (CheckpointMismatchError,  # noqa: E402
                                check_checkpoint_compatible)

__all__ += ['CheckpointMismatchError', 'check_checkpoint_compatible']
