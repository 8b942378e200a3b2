"""Register mmpad's detection modules into mmdet's registries."""
import mmpad.engine  # noqa: F401
from mmpad.utils.checkpoint import install_safe_checkpoint_loading

install_safe_checkpoint_loading()
import mmpad.models.losses.box_contrastive_loss  # noqa: F401,E402
import mmpad.models.aligndet.retina_embed_head  # noqa: F401,E402
import mmpad.models.aligndet.fcos_embed_head  # noqa: F401,E402
import mmpad.models.aligndet.embed_bbox_head  # noqa: F401,E402
import mmpad.models.aligndet.embed_roi_head  # noqa: F401,E402
import mmpad.models.aligndet.detr_embed_head  # noqa: F401,E402
import mmpad.models.aligndet.pretrainer  # noqa: F401,E402
import mmpad.engine.hooks.aligndet_momentum_hook  # noqa: F401,E402
import mmpad.engine.hooks.aligndet_reset_norms_hook  # noqa: F401,E402
import mmpad.datasets.transforms.aligndet_transforms  # noqa: F401,E402
import mmpad.models.backbones.pad_vit_det  # noqa: F401,E402
import mmpad.models.backbones.simple_fpn  # noqa: F401,E402
import mmpad.engine.optimizers.vit_layer_decay  # noqa: F401,E402
import mmpad.datasets.flir  # noqa: F401,E402
import mmpad.datasets.aligndet_proposals  # noqa: F401,E402
import mmpad.datasets.transforms.loading  # noqa: F401,E402
