"""PAD, pre-training with adapters: patchwise-scale adapters in every block of a
frozen ImageNet ViT, for any mmpretrain self-supervised algorithm, and the same
adapted ViT as the backbone of mmdet detectors and mmseg segmentors.

Method: PAD, Zhang et al., arXiv 2312.08192 (2023). "The reference" / "the
authors' code" in these modules means their released code, casiatao/PAD at commit
e9f1555 (pre-training in FAIR-MAE / timm style, mmseg 0.x, detectron2 ViTDet).

* mmpretrain: :mod:`.pad_layers` (adapted blocks), :mod:`.pad_backbones`
  (``PADMAEViT``, ...), :mod:`.pad_algorithm` (the ``PAD`` wrapper),
  :mod:`.delayed_scale_hook`, :mod:`.adapter_checkpoint_hook`, :mod:`.msip`
  (the MSIP data set), :mod:`.roi_crop` (object-sensitive random RoI cropping);
* mmdet: :mod:`.pad_vit_det` (``PADViTDet``), :mod:`.simple_fpn`;
* mmseg: :mod:`.pad_mae_seg` (``PADMAESeg``);
* host-free: :mod:`.checkpoint_conversion` (pre-training -> downstream weights),
  :mod:`.adapter_merge` (adapter-only checkpoints), :mod:`.msip_layout`.

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
