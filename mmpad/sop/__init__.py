"""Subimage Overlap Prediction (SOP): segmentation pre-training by predicting
where a sub-image lies in its image.

* :mod:`.segmentor` (``SOPEncoderDecoder``), :mod:`.siamese_fusion`,
  :mod:`.vit_token_concat`, :mod:`.first_conv`;
* :mod:`.binary_dice_loss`, :mod:`.metric`;
* :mod:`.unlabeled_dataset`, :mod:`.subimage_overlap` (the transform);
* :mod:`.convert`: SOP checkpoint -> stock mmseg segmentor (no mmseg needed).

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
