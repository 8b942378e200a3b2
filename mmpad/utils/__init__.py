from .checkpoint import install_safe_checkpoint_loading, torch_load_checked
from .config_check import ConfigError, check_config

__all__ = ['install_safe_checkpoint_loading', 'torch_load_checked',
           'ConfigError', 'check_config']
from .checkpoint_compat import (CheckpointMismatchError,  # noqa: E402
                                check_checkpoint_compatible)

__all__ += ['CheckpointMismatchError', 'check_checkpoint_compatible']
