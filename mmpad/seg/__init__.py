"""Register mmpad's segmentation modules into mmsegmentation's registries."""
import mmpad.engine  # noqa: F401
from mmpad.utils.checkpoint import install_safe_checkpoint_loading

install_safe_checkpoint_loading()
import mmpad.models.backbones.pad_mae_seg  # noqa: F401,E402
import mmpad.engine.optimizers.vit_layer_decay  # noqa: F401,E402
import mmpad.datasets.infrared_seg  # noqa: F401,E402
import mmpad.datasets.transforms.subimage_overlap  # noqa: F401,E402
import mmpad.datasets.sop_unlabeled  # noqa: F401,E402
import mmpad.datasets.transforms.loading  # noqa: F401,E402
import mmpad.models.sop.binary_dice_loss  # noqa: F401,E402
import mmpad.models.sop.segmentor  # noqa: F401,E402
import mmpad.models.sop.vit_token_concat  # noqa: F401,E402
import mmpad.evaluation.sop_metric  # noqa: F401,E402
