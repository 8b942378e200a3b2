"""mmpad.sop.SOPInferencer: the overlap mask of an (image, sub-image) pair with an
SOP pre-training checkpoint, and tools/visualize_sop.py --pair, which draws with
it. The pair a user gives must reach the model exactly as the validation pipeline's
``SubimageOverlap`` sample of the same box does."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

pytest.importorskip('mmseg')
import mmpad  # noqa: F401,E402
from mmpad.engine.inference import init_model  # noqa: E402
from mmpad.sop import SOPInferencer  # noqa: E402

from mmpad_test_utils import REPO, randomise_, run_tool  # noqa: E402

SOP_DEMO = osp.join(REPO, 'configs/sop/demo/'
                    'sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py')
SOP_FT = osp.join(REPO, 'configs/sop/demo/finetune_deeplabv3plus-r18-tiny_soda-demo.py')


@pytest.fixture(scope='module')
def user_setup(tmp_path_factory, demo_data):
    """A user's config inheriting the SOP demo (pointed at the generated data) and
    a checkpoint in the layout tools/train.py writes."""
    tmp = tmp_path_factory.mktemp('sop_infer')
    cfg = tmp / 'my_sop.py'
    cfg.write_text(f"_base_ = [{SOP_DEMO!r}]\n"
                   f"data_root = {osp.join(demo_data, 'soda') + '/'!r}\n"
                   "val_dataloader = dict(dataset=dict(data_root=data_root))\n")
    torch.manual_seed(0)
    model = init_model(str(cfg), scope='mmseg')
    randomise_(model.decode_head.conv_seg, std=0.5)  # spatially varying logits
    ckpt = str(tmp / 'iter_200.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=200)), ckpt)
    return dict(cfg=str(cfg), ckpt=ckpt, model=model, tmp=tmp)


@pytest.fixture(scope='module')
def inferencer(user_setup):
    return SOPInferencer(user_setup['cfg'], weights=user_setup['ckpt'])


def _val_sample(cfg_path, index=0):
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(cfg_path)
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(cfg.val_dataloader.dataset)
        return dataset[index]


def _crop_of(sample, dx=0):
    """The user's sub-image: the sample's box cut from its (processed) parent,
    as a BGR array of the box's own size; ``dx`` shifts the box."""
    parent_rgb = sample['inputs'][:3].permute(1, 2, 0).numpy()
    x0, y0, w, h = sample['data_samples'].sop_box
    return np.ascontiguousarray(parent_rgb[y0:y0 + h, x0 + dx:x0 + dx + w, ::-1])


def test_a_pair_reaches_the_model_as_the_pretext_sample_does(inferencer, user_setup):
    sample = _val_sample(user_setup['cfg'])
    path = sample['data_samples'].img_path
    data = next(inferencer.preprocess(
        inferencer._inputs_to_list((path, _crop_of(sample)))))
    assert torch.equal(data['inputs'][0], sample['inputs'])  # (6, H, W) [I | S]

    out = inferencer((path, _crop_of(sample)))
    (pred, ) = out['predictions']
    with torch.no_grad():
        (ref, ) = user_setup['model'].test_step(pseudo_collate([sample]))
    assert np.array_equal(pred['mask'], ref.pred_sem_seg.data[0].numpy())
    assert pred['mask'].shape == pred['probability'].shape == sample['inputs'].shape[1:]
    assert np.allclose(pred['probability'],
                       torch.sigmoid(ref.seg_logits.data[0]).numpy(), atol=1e-6)
    assert np.array_equal(pred['image'],
                          sample['inputs'][:3].permute(1, 2, 0).numpy())

    # control: a shifted crop is another input, and gets another prediction
    shifted = inferencer((path, _crop_of(sample, dx=4)))['predictions'][0]
    assert not np.array_equal(shifted['sub_image'], pred['sub_image'])
    assert not np.allclose(shifted['probability'], pred['probability'])


def test_the_checkpoint_is_what_predicts(inferencer, user_setup):
    sample = _val_sample(user_setup['cfg'], 1)
    pair = (sample['data_samples'].img_path, _crop_of(sample))
    loaded = inferencer(pair)['predictions'][0]['probability']
    fresh = SOPInferencer(user_setup['cfg'])(pair)['predictions'][0]['probability']
    assert not np.allclose(loaded, fresh)


def test_batches_datasamples_and_pictures(inferencer, user_setup, tmp_path):
    sample = _val_sample(user_setup['cfg'])
    path = sample['data_samples'].img_path
    pairs = [(path, _crop_of(sample)), (mmcv.imread(path), _crop_of(sample))]
    out = inferencer(pairs, batch_size=2, out_dir=str(tmp_path))
    a, b = out['predictions']
    assert np.array_equal(a['mask'], b['mask'])  # a path or its array: same
    row = out['visualization'][0]
    h, w = a['mask'].shape
    assert row.shape == (h, 3 * w, 3)
    name = osp.splitext(osp.basename(path))[0]
    written = mmcv.imread(str(tmp_path / 'vis' / f'{name}.png'))[..., ::-1]
    assert np.array_equal(written, row)
    assert osp.isfile(tmp_path / 'vis' / '00000001.png')  # the array's index
    samples = inferencer(pairs[0], return_datasamples=True)['predictions']
    assert np.array_equal(samples[0].pred_sem_seg.data[0].numpy(), a['mask'])


def test_bad_inputs_fail_with_one_clear_error(inferencer, user_setup, tmp_path):
    with pytest.raises(TypeError, match=r'\(image, sub_image\) pair'):
        inferencer('only_one_image.jpg')
    with pytest.raises(FileNotFoundError, match='image .*a.jpg.* does not exist'):
        inferencer((str(tmp_path / 'a.jpg'), np.zeros((8, 8, 3), np.uint8)))
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    sample = _val_sample(user_setup['cfg'])
    with pytest.raises(ValueError, match='cannot read the sub-image .*broken.jpg'):
        inferencer((sample['data_samples'].img_path, str(broken)))
    with pytest.raises(ValueError, match=r'sub-image must be \(H, W, 3\)'):
        inferencer((sample['data_samples'].img_path, np.zeros((8, 8, 4), np.uint8)))
    with pytest.raises(ValueError, match='no SubimageOverlap step'):
        SOPInferencer(SOP_FT)
    pair = (sample['data_samples'].img_path, _crop_of(sample))
    assert inferencer(pair)['predictions'][0]['mask'].shape  # still works


def test_visualize_sop_tool_draws_a_given_pair(user_setup, tmp_path):
    sample = _val_sample(user_setup['cfg'])
    crop = str(tmp_path / 'crop.png')
    mmcv.imwrite(_crop_of(sample), crop)
    out = str(tmp_path / 'pair.png')
    proc = run_tool(['tools/visualize_sop.py', user_setup['cfg'], user_setup['ckpt'],
                     '--out', out, '--pair', sample['data_samples'].img_path, crop],
                    hang_note='measured: about 10 s')
    assert '(1 samples)' in proc.stdout and mmcv.imread(out) is not None
