"""Subimage Overlap Prediction (SOP): segmentor, fusion modules, ViT token_concat
wrapper, binary Dice loss, and the SOP -> stock segmentor conversion.

Modules are registered into mmseg by :mod:`mmpad.seg`; this package imports nothing
itself so that :mod:`mmpad.models.sop.convert` stays usable without mmseg.
"""
