"""The runner and the host-free hooks, registered in mmengine's root registries
(found from any ``default_scope``)."""
from mmpad.engine.hooks.bad_sample_logger_hook import BadSampleLoggerHook
from mmpad.engine.hooks.fp16_compression_hook import Fp16CompressionHook
from mmpad.engine.hooks.gradient_sync_check_hook import (GradientMismatchError,
                                                         GradientSyncCheckHook)
from mmpad.engine.hooks.nonfinite_loss_hook import (NonFiniteLossError,
                                                    NonFiniteLossHook)
from mmpad.engine.hooks.random_state_hook import RandomStateHook
from mmpad.engine.runner import MMPadRunner

__all__ = ['MMPadRunner', 'RandomStateHook', 'GradientSyncCheckHook',
           'GradientMismatchError', 'NonFiniteLossHook', 'NonFiniteLossError',
           'Fp16CompressionHook', 'BadSampleLoggerHook']
