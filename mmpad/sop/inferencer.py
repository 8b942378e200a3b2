"""Overlap-mask prediction for an (image, sub-image) pair with an SOP pre-training
checkpoint, in the style of mmseg's ``MMSegInferencer``:

>>> from mmpad.sop import SOPInferencer
>>> inferencer = SOPInferencer(
...     'configs/sop/demo/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo.py',
...     weights='work_dirs/sop_pretrain_deeplabv3plus-r18-tiny_soda-demo/iter_200.pth')
>>> result = inferencer(('image.jpg', 'crop.jpg'), out_dir='vis/')
>>> result['predictions'][0]['mask']  # (H, W) uint8, 1 where the crop lies

The image goes through the config's validation pipeline up to ``SubimageOverlap``
(resize, centre crop); the sub-image is then resized to the image's size and the
two are stacked into the 6-channel ``[image | sub-image]`` input the segmentor was
trained on (the channel order and interpolation of the config's
``SubimageOverlap``). The mask, the probabilities and the pictures are in the frame
of that processed image. The weights are loaded by
:func:`mmpad.engine.inference.init_model` (mmpad's checkpoint reader: no code runs
from the file). ``tools/visualize_sop.py`` draws its figures with this module.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.infer import BaseInferencer
from mmengine.registry import DefaultScope

from mmseg.registry import INFERENCERS, TRANSFORMS

from mmpad.engine.inference import init_model
from mmpad.sop.subimage_overlap import _INTERPOLATIONS

ImageType = Union[str, np.ndarray]
PairType = Tuple[ImageType, ImageType]
#: the colours of :func:`overlay` in the pictures (RGB)
PRED_COLOR = (255, 0, 0)
GT_COLOR = (0, 255, 0)


def overlay(img: np.ndarray, mask: np.ndarray, color: Sequence[int]) -> np.ndarray:
    """(H, W, 3) uint8 ``img`` with the pixels where ``mask`` (H, W) > 0 tinted
    half-way to ``color``."""
    out = img.astype(np.float32).copy()
    sel = mask > 0
    out[sel] = 0.5 * out[sel] + 0.5 * np.asarray(color, np.float32)
    return out.astype(np.uint8)


def split_pair(inputs: torch.Tensor,
               to_rgb: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """A packed (6, H, W) ``[image | sub-image]`` tensor -> two (H, W, 3) uint8 RGB
    arrays (``to_rgb``: the channels are already RGB, as ``SubimageOverlap``
    writes them by default)."""
    img = inputs.detach().cpu().numpy()
    parent = np.ascontiguousarray(img[:3].transpose(1, 2, 0))
    sub = np.ascontiguousarray(img[3:6].transpose(1, 2, 0))
    if not to_rgb:
        parent, sub = parent[..., ::-1], sub[..., ::-1]
    return np.ascontiguousarray(parent), np.ascontiguousarray(sub)


def _sop_step(pipeline: Sequence[dict], where: str) -> Tuple[int, dict]:
    for i, t in enumerate(pipeline):
        if t.get('type') in ('SubimageOverlap', 'mmseg.SubimageOverlap'):
            return i, t
    raise ValueError(f'SOPInferencer: {where} has no SubimageOverlap step; it must '
                     'be an SOP pre-training config (the pretext pipeline tells how '
                     'to build the [image | sub-image] input)')


@INFERENCERS.register_module()
class SOPInferencer(BaseInferencer):
    """Where does a sub-image lie in its image: the SOP pretext prediction.

    Args:
        model: config file or :class:`Config` of an SOP pre-training model
            (``SOPEncoderDecoder``).
        weights: checkpoint to load (``tools/train.py`` output); ``None`` keeps
            the initialisation.
        device: where to run (default CPU).
        scope: registry scope, ``'mmseg'``.

    Call it with a pair ``(image, sub_image)`` or a list of pairs; each is a path
    or an (H, W, 3) BGR uint8 array (as ``mmcv.imread`` gives). Keyword
    arguments: ``out_dir`` (write ``<out_dir>/vis/<image name>.png``: image |
    sub-image | predicted location), ``show``, ``wait_time``,
    ``return_datasamples`` (``SegDataSample`` predictions instead of dicts).

    Returns ``dict(predictions=[...], visualization=[...] or None)``; each
    prediction: ``mask`` (H, W) uint8 (1 = inside the sub-image's location),
    ``probability`` (H, W) float32 sigmoid of the logits, ``image`` and
    ``sub_image`` (H, W, 3) uint8 RGB as the model saw them.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'show', 'wait_time', 'out_dir'}
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: Union[str, Config, ConfigDict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmseg') -> None:
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(model=model, weights=weights, device=device or 'cpu',
                             scope=scope, show_progress=False)

    # ---------------------------------------------------------------- building
    def _init_model(self, cfg: Config, weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        return init_model(cfg, weights, device=device, scope=self.scope)

    def _init_visualizer(self, cfg: Config) -> None:
        """The pictures are drawn here (numpy); no host visualizer is built."""
        return None

    def _init_pipeline(self, cfg: Config) -> Callable:
        test = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
        pipeline = list((test.get('dataset') or {}).get('pipeline') or [])
        at, sop = _sop_step(pipeline, 'the config\'s test/val pipeline')
        self.to_rgb = bool(sop.get('to_rgb', True))
        self.interpolation = _INTERPOLATIONS[sop.get('interpolation', 'bilinear')]
        before = [t for t in pipeline[:at]
                  if t.get('type') not in ('LoadImageFromFile', 'LoadAnnotations')]
        after = pipeline[at + 1:]
        with DefaultScope.overwrite_default_scope(self.scope):
            self._image_steps = Compose([TRANSFORMS.build(t) for t in before])
            self._pack = Compose([TRANSFORMS.build(t) for t in after])
        return self._pipeline

    @staticmethod
    def _read(item: ImageType, what: str) -> np.ndarray:
        import mmcv
        if isinstance(item, str) and not osp.isfile(item):
            raise FileNotFoundError(f'SOPInferencer: the {what} {item!r} does not '
                                    'exist')
        img = mmcv.imread(item) if isinstance(item, str) else item
        if img is None or not isinstance(img, np.ndarray):
            raise ValueError(f'SOPInferencer: cannot read the {what} {item!r}')
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'SOPInferencer: the {what} must be (H, W, 3) or '
                             f'(H, W), got shape {img.shape}')
        return np.clip(img, 0, 255).astype(np.uint8)

    def _pipeline(self, pair: PairType) -> dict:
        """One pair -> the packed sample (``inputs`` (6, H, W), data sample)."""
        image, sub = self._read(pair[0], 'image'), self._read(pair[1], 'sub-image')
        results = dict(img=image, img_shape=image.shape[:2],
                       ori_shape=image.shape[:2])
        if isinstance(pair[0], str):
            results['img_path'] = pair[0]
        results = self._image_steps(results)
        img = results['img']
        H, W = img.shape[:2]
        sub = cv2.resize(sub, (W, H), interpolation=self.interpolation)
        if self.to_rgb:
            img, sub = img[..., ::-1], sub[..., ::-1]
        results.update(img=np.ascontiguousarray(np.concatenate([img, sub], axis=2)),
                       img_shape=(H, W), ori_shape=(H, W), flip=False,
                       flip_direction=None, sop_box=(0, 0, 0, 0),
                       sop_negative=False)
        results.setdefault('img_path', '')
        results.setdefault('scale_factor', (1.0, 1.0))
        results.setdefault('pad_shape', (H, W))
        return self._pack(results)

    def _inputs_to_list(self, inputs: Union[PairType, List[PairType]]) -> list:
        """A pair or a list of pairs -> a list of pairs."""
        def is_image(x: Any) -> bool:
            return isinstance(x, (str, np.ndarray))
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2 \
                and all(is_image(x) for x in inputs):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not all(
                isinstance(p, (tuple, list)) and len(p) == 2
                and all(is_image(x) for x in p) for p in inputs):
            raise TypeError('SOPInferencer: inputs must be an (image, sub_image) '
                            'pair of paths or arrays, or a list of such pairs')
        return [tuple(p) for p in inputs]

    # ----------------------------------------------------------------- results
    @staticmethod
    def _as_dict(sample) -> Dict[str, np.ndarray]:
        logits = sample.seg_logits.data
        prob = torch.sigmoid(logits[0]) if logits.shape[0] == 1 \
            else logits.softmax(0)[1]
        return dict(mask=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
                    probability=prob.cpu().numpy().astype(np.float32))

    def visualize(self, inputs: list, preds: list, show: bool = False,
                  wait_time: float = 0,
                  out_dir: str = '') -> Optional[List[np.ndarray]]:
        """image | sub-image | predicted location (red) per pair."""
        if not show and not out_dir:
            return None
        import mmcv
        vis = []
        for i, (pair, pred) in enumerate(zip(inputs, preds)):
            parent, sub = self._images[i]
            mask = pred.pred_sem_seg.data[0].cpu().numpy()
            row = np.concatenate([parent, sub, overlay(parent, mask, PRED_COLOR)],
                                 axis=1)
            vis.append(row)
            if show:
                mmcv.imshow(row[..., ::-1], win_name='SOP prediction',
                            wait_time=wait_time)
            if out_dir:
                name = osp.splitext(osp.basename(pair[0]))[0] \
                    if isinstance(pair[0], str) else f'{i:08d}'
                os.makedirs(osp.join(out_dir, 'vis'), exist_ok=True)
                mmcv.imwrite(row[..., ::-1], osp.join(out_dir, 'vis', name + '.png'))
        return vis

    def __call__(self, inputs, return_datasamples: bool = False,
                 batch_size: int = 1, **kwargs) -> dict:
        """See the class docstring."""
        pre, fwd, vis_kw, post = self._dispatch_kwargs(**kwargs)
        ori = self._inputs_to_list(inputs)
        preds, self._images = [], []
        for data in self.preprocess(ori, batch_size=batch_size, **pre):
            self._images += [split_pair(x, self.to_rgb) for x in data['inputs']]
            preds.extend(self.forward(data, **fwd))
        visualization = self.visualize(ori, preds, **vis_kw)
        return self.postprocess(preds, visualization, return_datasamples, **post)

    def postprocess(self, preds: list, visualization: Optional[List[np.ndarray]],
                    return_datasample: bool = False) -> dict:
        if return_datasample:
            predictions = preds
        else:
            predictions = []
            for sample, (parent, sub) in zip(preds, self._images):
                out = self._as_dict(sample)
                out.update(image=parent, sub_image=sub)
                predictions.append(out)
        return dict(predictions=predictions, visualization=visualization)
