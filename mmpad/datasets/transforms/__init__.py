"""Image loading that validates what it reads (``LoadImageFromFileSafe``, ...).

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
