"""mmpad.pad.PADInferencer: reconstructions, masks and features of a PAD
pre-training checkpoint for single images, and tools/visualize_mae.py --img, which
draws with it."""
import glob
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmpad  # noqa: F401
from mmpad.engine.inference import init_model
from mmpad.pad import PADInferencer
from mmpad.pad.inferencer import check_reconstructs, reconstruct

from mmpad_test_utils import REPO, randomise_, run_tool

PAD_DEMO = osp.join(REPO, 'configs/pad/demo/pad-mae_vit-tiny-p16_demo.py')
PATCH = 16


@pytest.fixture(scope='module')
def user_setup(tmp_path_factory):
    """A user's config inheriting the PAD demo, and a checkpoint in the layout
    tools/train.py writes (the built model with random, trained-looking adapters
    and decoder)."""
    tmp = tmp_path_factory.mktemp('pad_infer')
    cfg = tmp / 'my_pad.py'
    cfg.write_text(f'_base_ = [{PAD_DEMO!r}]\n')
    torch.manual_seed(0)
    model = init_model(str(cfg))
    randomise_(model.backbone.layers[0].adapter)
    randomise_(model.neck, std=0.02)
    ckpt = str(tmp / 'epoch_6.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=6)), ckpt)
    img = (np.random.default_rng(0).random((80, 96, 3)) * 255).astype(np.uint8)
    img_path = str(tmp / 'thermal_0001.jpg')
    mmcv.imwrite(img, img_path)
    return dict(cfg=str(cfg), ckpt=ckpt, model=model, img=img_path, tmp=tmp)


@pytest.fixture(scope='module')
def inferencer(user_setup):
    return PADInferencer(user_setup['cfg'], pretrained=user_setup['ckpt'])


def test_reconstruction_pastes_the_visible_patches_and_predicts_the_rest(
        inferencer, user_setup):
    res = inferencer(user_setup['img'])[0]
    size = 64  # the demo's img_size: shorter edge resized, centre crop
    for key in ('input', 'masked', 'reconstruction'):
        assert res[key].shape == (size, size, 3) and res[key].dtype == np.uint8
    mask = res['mask']
    assert mask.shape == (size, size) and mask.dtype == bool
    assert mask.mean() == pytest.approx(0.75)  # the config's mask_ratio
    grid = mask.reshape(size // PATCH, PATCH, size // PATCH, PATCH)
    assert (grid == grid[:, :1, :, :1]).all()  # whole patches
    visible = ~mask
    assert np.array_equal(res['reconstruction'][visible], res['input'][visible])
    # masked patches: predicted (control: not the input), blanked in `masked`
    diff = np.abs(res['reconstruction'][mask].astype(int) - res['input'][mask])
    assert diff.mean() > 5
    assert np.array_equal(res['masked'][visible], res['input'][visible])
    assert np.unique(res['masked'][mask]).size <= 2  # the data mean, rounded


def test_the_checkpoint_is_what_reconstructs(inferencer, user_setup):
    """Same seed, same mask: the result equals :func:`reconstruct` of the saved
    model; a model without the checkpoint reconstructs differently."""
    res = inferencer(user_setup['img'], seed=3)[0]
    data = next(inferencer.preprocess([user_setup['img']]))
    x = inferencer._normalised(data)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        ref = reconstruct(user_setup['model'], x)
    pre = inferencer.model.data_preprocessor
    expected = (ref['reconstruction'][0] * pre.std.view(-1, 1, 1)
                + pre.mean.view(-1, 1, 1)).clamp(0, 255).round().byte()
    assert np.array_equal(res['reconstruction'], expected.permute(1, 2, 0).numpy())
    fresh = PADInferencer(user_setup['cfg'])(user_setup['img'], seed=3)[0]
    assert np.array_equal(fresh['mask'], res['mask'])
    assert not np.array_equal(fresh['reconstruction'], res['reconstruction'])


def test_seed_fixes_the_mask(inferencer, user_setup):
    a, b = (inferencer(user_setup['img'], seed=s)[0]['mask'] for s in (0, 0))
    c = inferencer(user_setup['img'], seed=1)[0]['mask']
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_features_are_the_adapted_encoders_unmasked_outputs(inferencer, user_setup):
    img = mmcv.imread(user_setup['img'])
    res = inferencer([img, user_setup['img']], outputs='features', batch_size=2)
    assert 'reconstruction' not in res[0]
    (feat, ) = res[0]['features']
    assert feat.shape == (1 + (64 // PATCH)**2, 64)  # cls + patch tokens, C
    x = inferencer._normalised(next(inferencer.preprocess([user_setup['img']])))
    with torch.no_grad():
        (ref, ) = user_setup['model'].extract_feat(x)
        adapter = user_setup['model'].backbone.layers[0].adapter
        saved = {k: v.clone() for k, v in adapter.state_dict().items()}
        for p in adapter.parameters():
            p.zero_()
        (without, ) = user_setup['model'].extract_feat(x)
        adapter.load_state_dict(saved)
    assert torch.allclose(feat, ref[0], atol=1e-6)
    assert torch.allclose(res[1]['features'][0], feat, atol=1e-6)  # array == path
    assert not torch.allclose(without[0], feat, atol=1e-4)  # control: adapters on


def test_show_dir_writes_the_triptych(inferencer, user_setup, tmp_path):
    res = inferencer(user_setup['img'], show_dir=str(tmp_path))[0]
    assert res['visualization'].shape == (64, 3 * 64, 3)
    written = mmcv.imread(str(tmp_path / 'thermal_0001.png'))[..., ::-1]
    assert np.array_equal(written, res['visualization'])
    assert np.array_equal(written[:, 128:], res['reconstruction'])


def test_bad_requests_fail_with_one_clear_error(inferencer, user_setup, tmp_path):
    with pytest.raises(ValueError, match=r"outputs=\('recon',\).*reconstruction"):
        inferencer(user_setup['img'], outputs=('recon', ))
    with pytest.raises(ValueError, match='unknown argument'):
        inferencer(user_setup['img'], show_dirs=str(tmp_path))
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='cannot read image .*broken.jpg'):
        inferencer([user_setup['img'], str(broken)])
    assert inferencer(user_setup['img'])[0]['mask'].any()  # a failed call leaves
    # nothing behind (mmpretrain's progress bar would stay active)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        PADInferencer(user_setup['cfg'], pretrained=str(tmp_path / 'nope.pth'))
    classifier = init_model(Config(dict(
        default_scope='mmpretrain',
        model=dict(type='ImageClassifier',
                   backbone=dict(type='LeNet5', num_classes=3)))))
    with pytest.raises(TypeError, match='MAE-style.*ImageClassifier'):
        check_reconstructs(classifier, 'PADInferencer')


def test_visualize_mae_tool_draws_given_images(user_setup, tmp_path):
    out = str(tmp_path / 'recon.png')
    proc = run_tool(['tools/visualize_mae.py', user_setup['cfg'], user_setup['ckpt'],
                     '--out', out, '--img', user_setup['img'], user_setup['img']],
                    hang_note='measured: about 10 s')
    assert 'wrote' in proc.stdout and '(2 images)' in proc.stdout
    assert osp.isfile(out) and mmcv.imread(out) is not None
    assert glob.glob(str(tmp_path / '*.png')) == [out]
