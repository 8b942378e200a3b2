"""A config whose formatted text is computed once.

mmengine's Runner asks for ``cfg.pretty_text`` four times per run (the log, the
dumped config, the message hub, every checkpoint's meta), and each call formats the
whole config with yapf: about 1.5 s for a detector config on one CPU core, so 5-6 s of
every ``tools/train.py`` start. :class:`CachedTextConfig` formats once and reuses the
text for as long as the config's content is unchanged.
"""
from __future__ import annotations

from mmengine.config import Config


class CachedTextConfig(Config):
    """:class:`mmengine.config.Config` with a cached :attr:`pretty_text`."""

    @classmethod
    def of(cls, cfg: Config) -> 'CachedTextConfig':
        """The same config (shared contents) as a :class:`CachedTextConfig`."""
        if isinstance(cfg, cls):
            return cfg
        cached = cls.__new__(cls)
        for key, value in cfg.__dict__.items():
            super(Config, cached).__setattr__(key, value)
        return cached

    @property
    def pretty_text(self) -> str:
        key = repr(self._cfg_dict)  # cheap next to yapf; any edit changes it
        hit = self.__dict__.get('_pretty_text_cache')
        if hit is not None and hit[0] == key:
            return hit[1]
        text = super().pretty_text
        super(Config, self).__setattr__('_pretty_text_cache', (key, text))
        return text
