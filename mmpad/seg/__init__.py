"""Register mmpad's segmentation modules into mmsegmentation's registries."""
import mmpad.engine  # noqa: F401
from mmpad.utils.checkpoint import install_safe_checkpoint_loading

install_safe_checkpoint_loading()
