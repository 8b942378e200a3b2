"""The Runner's config text is formatted once per content, and stays exact."""
import os.path as osp
from unittest import mock

from mmengine.config import Config

from mmpad.engine.config_text import CachedTextConfig

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/foundation/retinanet_r18-tiny_flir-demo.py')


def _count_formats(cfg, reads: int) -> int:
    import mmengine.config.config as config_module
    real = config_module.FormatCode
    with mock.patch.object(config_module, 'FormatCode', side_effect=real) as spy:
        for _ in range(reads):
            cfg.pretty_text
    return spy.call_count


def test_formatted_once_and_identical():
    stock = Config.fromfile(CFG)
    cached = CachedTextConfig.of(Config.fromfile(CFG))
    assert _count_formats(stock, 3) == 3  # control: mmengine formats every time
    assert _count_formats(cached, 3) == 1
    assert cached.pretty_text == stock.pretty_text


def test_an_edit_is_seen():
    import copy
    cached = CachedTextConfig.of(Config.fromfile(CFG))
    before = cached.pretty_text
    cached.train_cfg.max_iters = 7
    assert cached.pretty_text != before and 'max_iters=7' in cached.pretty_text
    clone = copy.deepcopy(cached)  # the Runner deep-copies its config
    assert isinstance(clone, CachedTextConfig)
    assert clone.pretty_text == cached.pretty_text
