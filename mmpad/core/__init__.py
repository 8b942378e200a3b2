"""Host-free core shared by every method: the patchwise-scale adapter
(:mod:`.adapters`), checkpoint I/O (:mod:`.checkpoint`), selective-search
proposals (:mod:`.proposals`), bad-data tracking (:mod:`.bad_samples`,
:mod:`.image_check`), layer-decay depths (:mod:`.layer_decay`), argument and
config checks. Nothing here imports mmpretrain, mmdet or mmseg.

The names below are imported from their modules on first use: importing one piece
(``mmpad.core.proposals`` in a numpy-only tool) imports neither torch nor mmengine
with the checkpoint and config code.
"""
from mmpad.registration import lazy_names

_CHECKPOINT = ('install_safe_checkpoint_loading', 'torch_load_checked',
               'verify_checkpoint', 'CheckpointLoadError', 'CorruptCheckpointError',
               'UnsafeCheckpointError', 'CheckpointMismatchError',
               'check_checkpoint_compatible')

__all__, __getattr__ = lazy_names(__name__, {
    **{n: ('mmpad.core.checkpoint', n) for n in _CHECKPOINT},
    **{n: ('mmpad.core.config_check', n) for n in ('ConfigError', 'check_config')},
})
