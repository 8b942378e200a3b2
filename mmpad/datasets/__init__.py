"""The infrared data sets (FLIR detection, SODA and MFNet segmentation), which own
their class names, the shared loading transforms, and the synthetic demo data.

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
