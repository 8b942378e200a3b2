"""Host-free core shared by every method: the patchwise-scale adapter
(:mod:`.adapters`), checkpoint I/O (:mod:`.checkpoint`), selective-search
proposals (:mod:`.proposals`), bad-data tracking (:mod:`.bad_samples`,
:mod:`.image_check`), layer-decay depths (:mod:`.layer_decay`), argument and
config checks. Nothing here imports mmpretrain, mmdet or mmseg.

The names below are imported on first use (``from mmpad.core import
check_config``), so that ``mmpad.core.proposals`` and the other numpy-only
modules can be imported without torch.
"""
import importlib

_EXPORTS = {
    'mmpad.core.checkpoint': [
        'install_safe_checkpoint_loading', 'torch_load_checked', 'verify_checkpoint',
        'CheckpointLoadError', 'CorruptCheckpointError', 'UnsafeCheckpointError',
        'CheckpointMismatchError', 'check_checkpoint_compatible'],
    'mmpad.core.config_check': ['ConfigError', 'check_config'],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(_WHERE[name]), name)
