"""Host-free hooks, registered in mmengine's root registry (found from any scope).

Every registered name is an attribute of this package, imported on first use.
"""
from mmpad.registration import lazy_exports

__all__, __getattr__ = lazy_exports(__name__)
