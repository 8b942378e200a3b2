"""A smoke session that skips a pre-training which passed earlier still points the
fine-tunings at that pre-training's converted files, whatever an older harness left
in ``checkpoints/produced.json`` (an older rule let the ViT-L PAD-MAE run claim
``checkpoints/pad-mae_vit-b_det.pth``, and the ViT-B FLIR detector was handed a
ViT-L file). Control: without the recall, the stale entry is what a run reads."""
import json
import os
import os.path as osp

from tools.smoke_configs import (PAD_DOWNSTREAM_SOURCE, Group, Smoke, conversions,
                                 load_config_dict)

PATH = f'configs/pad/{PAD_DOWNSTREAM_SOURCE}.py'
SHIPPED = 'checkpoints/pad-mae_vit-b_det.pth'


def _session(tmp_path):
    smoke = Smoke(str(tmp_path), log=lambda s: None)
    group = Group(configs=[PATH], signature={})
    cfg = load_config_dict(PATH)
    made = {}
    for conv in conversions(PATH, cfg):
        dst = smoke._converted(conv, group)
        made[conv.produces] = dst
    stale = tmp_path / 'converted' / 'pad-mae_vit-large' / 'pad-mae_vit-b_det.pth'
    for f in list(made.values()) + [str(stale)]:
        os.makedirs(osp.dirname(f), exist_ok=True)
        open(f, 'wb').close()
    smoke.ckpts.record(SHIPPED, str(stale))  # what the older harness left
    return group, cfg, made, str(stale)


def test_skipped_pretraining_records_its_files_again(tmp_path):
    group, cfg, made, stale = _session(tmp_path)
    assert set(made) == {SHIPPED, 'checkpoints/pad-mae_vit-b_seg.pth'}
    smoke = Smoke(str(tmp_path), log=lambda s: None)  # the next session
    assert smoke.ckpts.produced[SHIPPED] == stale     # control: stale as read
    smoke.recall_conversions(group, cfg)
    assert smoke.ckpts.produced[SHIPPED] == made[SHIPPED]
    with open(tmp_path / 'checkpoints' / 'produced.json') as f:
        assert json.load(f)[SHIPPED] == made[SHIPPED]  # and for the sessions after


def test_recall_needs_the_converted_file(tmp_path):
    group, cfg, made, stale = _session(tmp_path)
    for f in made.values():
        os.remove(f)
    smoke = Smoke(str(tmp_path), log=lambda s: None)
    smoke.recall_conversions(group, cfg)
    assert smoke.ckpts.produced[SHIPPED] == stale  # nothing to point at instead
