"""Synthetic model inputs for tests and benchmarks, like ``mmdet.testing``.

Nothing here is registered or imported by ``import mmpad``.
"""
