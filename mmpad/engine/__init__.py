"""Engine pieces registered in mmengine's root registries (found from any scope):
the runner and host-agnostic hooks."""
from .hooks.bad_sample_logger_hook import BadSampleLoggerHook
from .hooks.fp16_compression_hook import Fp16CompressionHook
from .hooks.gradient_sync_check_hook import (GradientMismatchError,
                                             GradientSyncCheckHook)
from .hooks.nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .hooks.random_state_hook import RandomStateHook
from .hooks.roi_crop_stats_hook import RoICropStatsHook
from .runner import MMPadRunner

__all__ = ['MMPadRunner', 'RandomStateHook', 'GradientSyncCheckHook',
           'GradientMismatchError', 'NonFiniteLossHook', 'NonFiniteLossError',
           'Fp16CompressionHook', 'BadSampleLoggerHook', 'RoICropStatsHook']
