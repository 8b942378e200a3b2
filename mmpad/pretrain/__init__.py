"""Register mmpad's pre-training modules into mmpretrain's registries.

Must not import mmdet or mmseg: PAD pre-training runs on mmcv without compiled ops.
"""
import mmpad.engine  # noqa: F401
from mmpad.utils.checkpoint import install_safe_checkpoint_loading

install_safe_checkpoint_loading()
import mmpad.models.selfsup  # noqa: F401,E402
import mmpad.engine.hooks.delayed_scale_hook  # noqa: F401,E402
import mmpad.engine.hooks.adapter_checkpoint_hook  # noqa: F401,E402
import mmpad.datasets.msip  # noqa: F401,E402
import mmpad.datasets.transforms.loading  # noqa: F401,E402
import mmpad.datasets.transforms.roi_crop  # noqa: F401,E402
