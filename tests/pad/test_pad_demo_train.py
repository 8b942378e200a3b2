"""The tiny PAD-MAE demo config through the real Runner (tools/train.py) on the
generated MSIP data, starting from a stock MAE checkpoint via load_from."""
import glob
import json
import os.path as osp
import re

import torch
from mmengine.config import Config

from mmpad.core.checkpoint.loading import torch_load_checked
from mmpad_test_utils import REPO, run_tool

DEMO_CFG = 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py'


def test_demo_pad_mae_trains_from_stock_checkpoint(demo_data, tmp_path):
    from mmengine.runner import save_checkpoint
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, DEMO_CFG))
    torch.manual_seed(0)
    stock = MODELS.build(cfg.model.algorithm.to_dict())
    stock.init_weights()
    stock_ckpt = str(tmp_path / 'mae_stock_in1k.pth')
    save_checkpoint({'meta': {}, 'state_dict': stock.state_dict()}, stock_ckpt)

    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', DEMO_CFG, '--work-dir', str(work),
                     '--cfg-options', f'load_from={stock_ckpt}'],
                    data_root=demo_data)
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'PAD MAE: frozen prefixes' in log and 'adapters 5,408' in log

    # only the adapters were missing from the stock checkpoint (mmengine
    # prints the mismatch to stdout)
    out = proc.stdout + proc.stderr
    missing = re.search(r'missing keys in source state_dict: (.*)', out)
    assert missing, 'load_from did not report the new adapter keys'
    keys = [k.strip() for k in missing.group(1).split(',')]
    assert keys and all('.adapter.' in k for k in keys)
    assert 'unexpected key' not in out

    # the loss went down (fixed masks are not used: compare epoch means)
    rows = [json.loads(line) for line in open(
        glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))[0])]
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == 18  # 6 epochs x 3 iterations (10 images, batch 4)
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.97 * first, (first, last)

    # encoder and decoder_embed are exactly the stock weights; adapters,
    # decoder moved; scale predictors held at 0 until epoch 5 (0-based)
    ep3 = torch_load_checked(str(work / 'epoch_3.pth'))['state_dict']
    ep6 = torch_load_checked(str(work / 'epoch_6.pth'))['state_dict']
    ref = stock.state_dict()
    for k, v in ref.items():
        if k.startswith(('backbone.', 'neck.decoder_embed.',
                         'neck.decoder_pos_embed')):
            assert torch.equal(ep6[k], v), k
    assert not torch.equal(ep6['neck.decoder_pred.weight'],
                           ref['neck.decoder_pred.weight'])
    scale = [k for k in ep6 if k.endswith('adapter.scale_pred.weight')]
    assert len(scale) == 4
    assert all(torch.count_nonzero(ep3[k]) == 0 for k in scale)
    assert all(torch.count_nonzero(ep6[k]) > 0 for k in scale)
    assert not torch.equal(ep3['backbone.layers.0.adapter.up.weight'],
                           ep6['backbone.layers.0.adapter.up.weight'])
    # adapter-only files were written next to the checkpoints
    assert osp.isfile(work / 'adapter_only_epoch_6.pth')
    assert 'Traceback' not in out
