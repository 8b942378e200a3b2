"""Subimage Overlap Prediction (SOP): segmentation pre-training by predicting
where a sub-image lies in its image.

Method: Sharma & Marin, "Subimage Overlap Prediction", arXiv 2601.01781 (WACV 2026
workshop CV4EO). mmpad is written from the paper's abstract, which defines the
pretext task (predict the mask of the sub-image's location in the image) but not
the sampling, the fusion of image and sub-image, the loss or the recipes: those
are mmpad's design, and each module says so where it applies.

* :mod:`.segmentor` (``SOPEncoderDecoder``), :mod:`.siamese_fusion`,
  :mod:`.vit_token_concat`, :mod:`.first_conv`;
* :mod:`.binary_dice_loss`, :mod:`.metric`;
* :mod:`.unlabeled_dataset`, :mod:`.subimage_overlap` (the transform);
* :mod:`.convert`: SOP checkpoint -> stock mmseg segmentor (no mmseg needed).

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
