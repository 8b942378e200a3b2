"""``InfraredSelfSupDataPreprocessor``: mmpretrain's ``SelfSupDataPreprocessor`` for
one-channel (gray infrared) batches, expanded to the model's 3 channels on the device.

A gray image decoded as 3 equal channels costs 3x the memory traffic in every
transform, in the DataLoader's shared-memory queue and in the host-to-device copy.
With ``LoadImageFromFileSafe(color_type='grayscale')`` the pipeline carries one
channel; this preprocessor moves the ``(B, 1, H, W)`` uint8 batch to the device and
normalises it into ``(B, 3, H, W)`` in one broadcast, which gives exactly the tensor
``SelfSupDataPreprocessor`` makes of the 3-channel batch (a BGR -> RGB swap of equal
channels is the identity; each output channel ``c`` is ``(gray - mean[c]) / std[c]``).
3-channel batches take the stock path unchanged.

``roi_resize``: the optional device-side half of the RoI crop. With
``ObjectSensitiveRandomRoICrop(resize='device')`` the CPU only cuts the crop (and
flips it); the batch is a list of crops of different sizes (``collate_fn=
dict(type='pseudo_collate')``), resized here to ``roi_resize`` on the device with
``torch.nn.functional.interpolate`` (bicubic, antialiased). Its pixels differ
slightly from Pillow's bicubic resize of the CPU path: it is a separate mode.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from mmpad.core.arg_check import check_int, check_size


@MODELS.register_module()
class InfraredSelfSupDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that accepts 1-channel batches (see the module).

    Args:
        num_channels: channels of the model input; a 1-channel batch is expanded to
            it (3 for the RGB ViTs PAD adapts). Must match ``len(mean)``.
        roi_resize: ``None`` (inputs arrive at their final size), or the output
            ``(h, w)`` / int size of the device-side RoI resize.
        **kwargs: :class:`mmpretrain.models.SelfSupDataPreprocessor` arguments
            (``mean``, ``std``, ``to_rgb``, ``non_blocking``, ...).
    """

    def __init__(self, num_channels: int = 3,
                 roi_resize: Union[None, int, Sequence[int]] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        self.num_channels = check_int(owner, 'num_channels', num_channels, 1)
        for name in ('mean', 'std'):
            value = kwargs.get(name)
            if value is not None and len(value) not in (1, self.num_channels):
                raise ValueError(
                    f'{owner}: {name} has {len(value)} values; num_channels='
                    f'{self.num_channels} needs 1 or {self.num_channels}')
        super().__init__(**kwargs)
        self.roi_resize: Optional[Tuple[int, int]] = None if roi_resize is None \
            else check_size(owner, 'roi_resize', roi_resize, lo=1)

    def _resize_crops(self, crops: List[torch.Tensor]) -> torch.Tensor:
        """(C, h_i, w_i) uint8 crops -> (B, C, H, W) float, each resized on the
        device (bicubic, antialiased, rounded and clipped to 0..255 as an 8-bit
        image would be)."""
        out = []
        for crop in crops:
            crop = crop.to(self.device, non_blocking=self._non_blocking)
            one = F.interpolate(crop[None].float(), size=self.roi_resize, mode='bicubic',
                                align_corners=False, antialias=True)
            out.append(one)
        return torch.cat(out).round_().clamp_(0, 255)

    def _gray(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> normalised (B, num_channels, H, W) float."""
        batch = batch.float()
        if not self._enable_normalize:
            return batch.expand(-1, self.num_channels, -1, -1).contiguous()
        mean = self.mean if self.mean.shape[0] == self.num_channels else \
            self.mean.expand(self.num_channels, -1, -1)
        std = self.std if self.std.shape[0] == self.num_channels else \
            self.std.expand(self.num_channels, -1, -1)
        return (batch - mean) / std

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if self.roi_resize is not None:
            if isinstance(inputs, torch.Tensor):
                inputs = list(inputs)
            if not isinstance(inputs, (list, tuple)) or not inputs or \
                    not all(isinstance(t, torch.Tensor) and t.dim() == 3 for t in inputs):
                raise TypeError(
                    f'{type(self).__name__}(roi_resize=...): data["inputs"] must be a '
                    f'list of (C, h, w) crops; use train_dataloader.collate_fn='
                    f'dict(type="pseudo_collate") with ObjectSensitiveRandomRoICrop('
                    f'resize="device")')
            data = dict(data, inputs=self._resize_crops(list(inputs)))
        batch = data['inputs']
        views = batch if isinstance(batch, (list, tuple)) else [batch]
        if self.num_channels != 1 and views and all(
                isinstance(v, torch.Tensor) and v.dim() == 4 and v.size(1) == 1
                for v in views):
            views, samples = self.cast_data((list(views), data.get('data_samples')))
            views = [self._gray(v) for v in views]
            return {'inputs': views if isinstance(batch, (list, tuple)) else views[0],
                    'data_samples': samples}
        return super().forward(data, training)
