"""Register mmpad's detection modules into mmdet's registries."""
import mmpad.engine  # noqa: F401
from mmpad.utils.checkpoint import install_safe_checkpoint_loading

install_safe_checkpoint_loading()
