"""Single-image inference for PAD (and plain MAE) pre-training checkpoints, in the
style of mmpretrain's inferencers (``ImageClassificationInferencer``,
``FeatureExtractor``):

>>> from mmpad.pad import PADInferencer
>>> inferencer = PADInferencer('configs/pad/demo/pad-mae_vit-tiny-p16_demo.py',
...                            pretrained='work_dirs/.../epoch_6.pth')
>>> result = inferencer('image.jpg', outputs=('reconstruction', 'features'),
...                     show_dir='vis/')[0]
>>> result['reconstruction']  # (H, W, 3) uint8 RGB, visible patches pasted back
>>> result['mask']            # (H, W) bool, True where the patch was masked
>>> result['features']        # the adapted encoder's outputs, e.g. ((1 + L, C),)

The image is resized (shorter edge) and centre-cropped to the backbone's input size
unless the config has a ``test_dataloader`` pipeline, which is then used as
mmpretrain's inferencers use it. The weights are loaded by
:func:`mmpad.engine.inference.init_model` (mmpad's checkpoint reader: no code runs
from the file). ``tools/visualize_mae.py`` draws its figures with this module.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import INFERENCERS
from mmpretrain.apis.base import BaseInferencer
from mmpretrain.registry import TRANSFORMS

from mmpad.engine.inference import init_model

InputType = Union[str, np.ndarray]
#: what :class:`PADInferencer` can return per image
OUTPUTS = ('reconstruction', 'features')
#: the title of the pictures (one row per image)
TRIPTYCH_TITLE = 'original | masked input | reconstruction'


def reconstruct(model: torch.nn.Module, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
    """MAE-style reconstruction of a batch, in the model's normalised input space.

    Args:
        model: an MAE-style mmpretrain algorithm (``PAD``-wrapped or not): its
            backbone returns ``(latent, mask, ids_restore)``, its neck decodes
            patches, its head has ``patchify`` / ``unpatchify``.
        inputs: (B, 3, H, W) normalised images.

    Returns:
        ``masked``: (B, 3, H, W) the input with masked patches zeroed;
        ``reconstruction``: (B, 3, H, W) the prediction with the visible patches
        pasted back (with a norm-pix target the prediction is mapped back with each
        patch's own mean and std, as in the MAE paper's figures);
        ``mask``: (B, L) 1 where a patch was masked.
    """
    head = model.head
    latent, mask, ids_restore = model.backbone(inputs)
    pred = model.neck(latent, ids_restore)                  # (B, L, p*p*3)
    target = head.patchify(inputs)                          # (B, L, p*p*3)
    if getattr(head, 'norm_pix', False):
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        pred = pred * (var + 1.e-6)**.5 + mean
    m = mask.unsqueeze(-1)                                  # 1 = masked
    return dict(masked=head.unpatchify(target * (1 - m)),
                reconstruction=head.unpatchify(target * (1 - m) + pred * m),
                mask=mask)


def check_reconstructs(model: torch.nn.Module, where: str) -> None:
    """Raise a ``TypeError`` naming ``where`` unless ``model`` is MAE-style (see
    :func:`reconstruct`)."""
    head = getattr(model, 'head', None)
    if not (hasattr(head, 'patchify') and hasattr(head, 'unpatchify')
            and hasattr(model, 'neck') and hasattr(model, 'backbone')):
        raise TypeError(
            f'{where}: pixel reconstruction needs an MAE-style algorithm (a head '
            f'with patchify / unpatchify and a decoder neck); '
            f'{type(model).__name__} with head {type(head).__name__} has none. '
            "Ask for outputs=('features',) instead.")


def to_uint8(img: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised -> (H, W, 3) uint8 (the channel order of the input)."""
    img = img.detach().cpu() * std[:, None, None] + mean[:, None, None]
    return img.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()


def triptych(model: torch.nn.Module, inputs: torch.Tensor,
             recon: Dict[str, torch.Tensor]) -> List[np.ndarray]:
    """One (H, 3W, 3) uint8 row per image: original | masked | reconstruction.

    ``inputs`` (B, 3, H, W) and ``recon`` (from :func:`reconstruct`) are in the
    normalised space of ``model.data_preprocessor`` (its mean / std undo it)."""
    pre = model.data_preprocessor
    mean, std = pre.mean.view(-1).cpu(), pre.std.view(-1).cpu()
    return [np.concatenate([to_uint8(t[i], mean, std) for t in
                            (inputs, recon['masked'], recon['reconstruction'])],
                           axis=1) for i in range(inputs.shape[0])]


def _input_size(model: torch.nn.Module) -> Tuple[int, int]:
    size = getattr(getattr(model.backbone, 'patch_embed', None),
                   'init_input_size', None)
    if size is None:
        raise TypeError(f'PADInferencer: cannot tell the input size of backbone '
                        f'{type(model.backbone).__name__} (no '
                        'patch_embed.init_input_size); give the config a '
                        'test_dataloader pipeline')
    return int(size[0]), int(size[1])


@INFERENCERS.register_module()
class PADInferencer(BaseInferencer):
    """Reconstructions, masks and features of a PAD / MAE pre-training model.

    Args:
        model: config file or :class:`Config` of a pre-training model (``PAD``
            wrapping an mmpretrain algorithm, or the stock algorithm), or a
            model built from one (``model.cfg`` or ``model._config`` set).
        pretrained: checkpoint to load (a ``.pth`` from ``tools/train.py``);
            ``None`` or ``False`` keeps the initialisation.
        device: where to run (default CPU).
        cfg_options: ``key=value`` overrides merged into the config first.

    Call it with an image path, an (H, W, 3) BGR uint8 array (as ``mmcv.imread``
    gives) or a list of them; keyword arguments:

    * ``outputs``: any of ``'reconstruction'`` (default), ``'features'``;
    * ``seed``: seeds the random patch mask (the same seed, the same mask);
    * ``show_dir``: write ``<image name>.png`` (original | masked |
      reconstruction) per image there; ``show``: display it (needs a display).

    Each result is a dict with ``input`` (H, W, 3) uint8 in the model's channel
    order (RGB for the shipped configs), and per ``outputs``:
    ``reconstruction``, ``masked`` (H, W, 3) uint8, ``mask`` (H, W) bool (True =
    masked patch), ``features`` (the backbone's unmasked outputs for this image:
    a tensor or a tuple of tensors, batch dimension removed);
    ``visualization`` (H, 3W, 3) uint8 when drawn.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = {'outputs', 'seed'}
    visualize_kwargs: set = {'show', 'show_dir', 'wait_time'}
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: Union[str, Config, torch.nn.Module],
                 pretrained: Union[str, bool, None] = None,
                 device: Union[str, torch.device, None] = None,
                 cfg_options: Optional[dict] = None) -> None:
        if isinstance(model, torch.nn.Module):
            cfg = getattr(model, '_config', None) or getattr(model, 'cfg', None)
            if cfg is None:
                raise ValueError('PADInferencer: a built model needs its config '
                                 'as model.cfg (init_model sets it)')
            if isinstance(pretrained, str):
                from mmengine.runner import load_checkpoint
                load_checkpoint(model, pretrained, map_location='cpu',
                                logger='silent')
            if device is not None:
                model.to(device)
        else:
            checkpoint = pretrained if isinstance(pretrained, str) else None
            model = init_model(model, checkpoint, device=device or 'cpu',
                               cfg_options=cfg_options)
            cfg = model.cfg
        model._config = cfg  # what mmpretrain's BaseInferencer reads
        model._dataset_meta = getattr(model, '_dataset_meta', None)
        # a model is given: BaseInferencer only moves it and sets eval mode
        super().__init__(model, pretrained=False, device=None)

    def __call__(self, inputs, return_datasamples: bool = False,
                 batch_size: int = 1, **kwargs) -> List[dict]:
        """See the class docstring. Runs the steps of mmpretrain's
        ``BaseInferencer.__call__`` without its progress bar, which stays
        active when an input fails part-way (and then breaks the next call)."""
        pre, fwd, vis, post = self._dispatch_kwargs(**kwargs)
        _check_outputs(fwd.get('outputs', ('reconstruction', )))
        ori = self._inputs_to_list(inputs)
        preds = []
        for data in self.preprocess(ori, batch_size=batch_size, **pre):
            preds.extend(self.forward(data, **fwd))
        visualization = self.visualize(ori, preds, **vis)
        return self.postprocess(preds, visualization, return_datasamples, **post)

    def _init_pipeline(self, cfg: Config) -> Callable:
        test = cfg.get('test_dataloader') or {}
        pipeline = (test.get('dataset') or {}).get('pipeline')
        if pipeline:
            from mmpretrain.datasets import remove_transform
            pipeline = remove_transform(pipeline, 'LoadImageFromFile')
        else:
            h, w = _input_size(self.model)
            pipeline = [dict(type='ResizeEdge', scale=min(h, w), edge='short'),
                        dict(type='CenterCrop', crop_size=(w, h)),
                        dict(type='PackInputs')]
        with_scope = cfg.get('default_scope', 'mmpretrain')
        from mmengine.registry import DefaultScope
        with DefaultScope.overwrite_default_scope(with_scope):
            return Compose([TRANSFORMS.build(t) for t in pipeline])

    def preprocess(self, inputs: List[InputType], batch_size: int = 1):
        """Batches of the packed images (``default_collate``)."""
        from mmcv.image import imread

        def load_image(item):
            img = imread(item)
            if img is None:
                raise ValueError(f'PADInferencer: cannot read image {item!r}')
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError('PADInferencer: expected an (H, W, 3) or (H, W) '
                                 f'image, got shape {img.shape}')
            return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])

        pipeline = Compose([load_image, self.pipeline])
        yield from map(default_collate,
                       self._get_chunk_data(map(pipeline, inputs), batch_size))

    def _normalised(self, data: dict) -> torch.Tensor:
        inputs = self.model.data_preprocessor(data, False)['inputs']
        if isinstance(inputs, (list, tuple)):  # SelfSupDataPreprocessor: per view
            inputs = inputs[0]
        return inputs

    @torch.no_grad()
    def forward(self, inputs: dict, outputs: Sequence[str] = ('reconstruction', ),
                seed: Optional[int] = 0) -> List[dict]:
        """One dict per image (see the class docstring)."""
        outputs = _check_outputs(outputs)
        x = self._normalised(inputs)
        pre = self.model.data_preprocessor
        mean, std = pre.mean.view(-1).cpu(), pre.std.view(-1).cpu()
        results = [dict(input=to_uint8(x[i], mean, std)) for i in range(len(x))]
        if 'reconstruction' in outputs:
            check_reconstructs(self.model, 'PADInferencer')
            with torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                recon = reconstruct(self.model, x)
            p = int(self.model.head.patch_size)
            grid = recon['mask'].view(len(x), x.shape[-2] // p, x.shape[-1] // p)
            pixel_mask = grid.repeat_interleave(p, 1).repeat_interleave(p, 2)
            rows = triptych(self.model, x, recon)
            for i, res in enumerate(results):
                w = x.shape[-1]
                res.update(masked=rows[i][:, w:2 * w],
                           reconstruction=rows[i][:, 2 * w:],
                           mask=pixel_mask[i].bool().cpu().numpy(),
                           triptych=rows[i])
        if 'features' in outputs:
            feats = self.model.extract_feat(x)
            for i, res in enumerate(results):
                res['features'] = _take(feats, i)
        return results

    def visualize(self, ori_inputs: list, preds: List[dict], show: bool = False,
                  show_dir: Optional[str] = None,
                  wait_time: float = 0) -> Optional[List[np.ndarray]]:
        """original | masked | reconstruction per image (needs the reconstruction);
        written to ``show_dir/<image name>.png`` (``<index>.png`` for arrays)."""
        if not show and show_dir is None:
            return None
        import mmcv
        vis = []
        for i, (item, pred) in enumerate(zip(ori_inputs, preds)):
            if 'triptych' not in pred:
                raise ValueError("PADInferencer: drawing needs "
                                 "outputs=('reconstruction', ...)")
            img = pred['triptych']
            vis.append(img)
            if show:
                mmcv.imshow(img[..., ::-1], win_name='PAD reconstruction',
                            wait_time=wait_time)
            if show_dir is not None:
                name = osp.splitext(osp.basename(item))[0] \
                    if isinstance(item, str) else str(i)
                os.makedirs(show_dir, exist_ok=True)
                mmcv.imwrite(img[..., ::-1], osp.join(show_dir, name + '.png'))
        return vis

    def postprocess(self, preds: List[dict], visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool = False) -> List[dict]:
        """The per-image dicts, with ``visualization`` when drawn."""
        out = []
        for i, pred in enumerate(preds):
            pred = {k: v for k, v in pred.items() if k != 'triptych'}
            if visualization is not None:
                pred['visualization'] = visualization[i]
            out.append(pred)
        return out


def _check_outputs(outputs: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """``outputs`` as a tuple; a ``ValueError`` unless it names one or more of
    :data:`OUTPUTS`."""
    outputs = (outputs, ) if isinstance(outputs, str) else tuple(outputs)
    if not outputs or any(o not in OUTPUTS for o in outputs):
        raise ValueError(f'PADInferencer: outputs={outputs!r}; choose one or '
                         f'more of {OUTPUTS}')
    return outputs


def _take(feats, index: int):
    """Item ``index`` of a batched tensor or of each tensor of a sequence."""
    if isinstance(feats, torch.Tensor):
        return feats[index]
    return type(feats)(_take(f, index) for f in feats)
