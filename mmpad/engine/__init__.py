"""Engine pieces: the runner and hooks (registered in mmengine's root registries)."""
from .runner import MMPadRunner

__all__ = ['MMPadRunner']
