"""SOP checkpoint -> state dict of the matching stock downstream segmentor,
which fine-tuning then starts from. Pure torch.

* ``early``: the 6-channel input kernel is sliced back to 3 channels
  (:func:`mmpad.sop.first_conv.slice_input_conv`);
* ``token_concat``: ``backbone.segment_embed`` is dropped;
* ``siamese_gap``: the ``fusion.*`` convs are dropped;
* always: ``conv_seg`` of the decode and auxiliary heads (1-channel classifiers)
  is dropped, so the result loads into the stock segmentor with only the
  classifiers missing.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import List, Mapping, Optional, Tuple

import torch

from mmpad.core.checkpoint.errors import CheckpointConversionError
from mmpad.core.checkpoint.report import CheckpointReport
from mmpad.sop.first_conv import SLICE_MODES, find_input_conv, slice_input_conv

CONV_SEG = re.compile(r'^(decode_head|auxiliary_head(\.\d+)?)\.conv_seg\.')
FUSION_PREFIX = 'fusion.'
SEGMENT_EMBED = 'backbone.segment_embed'
FUSION_MODES = ('early', 'token_concat', 'siamese_gap')


#: the checkpoint is not an SOP checkpoint of the requested kind
ConversionError = CheckpointConversionError
#: what :func:`sop_to_seg_state_dict` returns (``kind='sop'``, one report type)
ConversionReport = CheckpointReport


def backbone_input_conv(state: Mapping[str, torch.Tensor],
                        in_channels: int) -> Optional[str]:
    """Key of the backbone's first kernel with ``in_channels`` inputs."""
    return find_input_conv(
        ((k, v) for k, v in state.items() if k.startswith('backbone.')),
        in_channels)


def detect_fusion(state: Mapping[str, torch.Tensor]) -> str:
    """Fusion mode of an SOP state dict, from its parameters."""
    if SEGMENT_EMBED in state:
        return 'token_concat'
    if any(k.startswith(FUSION_PREFIX) for k in state):
        return 'siamese_gap'
    if backbone_input_conv(state, 6) is not None:
        return 'early'
    raise ConversionError(
        'not an SOP checkpoint: no backbone.segment_embed (token_concat), no '
        'fusion.* (siamese_gap) and no 6-channel backbone input layer (early)')


def sop_to_seg_state_dict(state: Mapping[str, torch.Tensor],
                          fusion: str = 'auto',
                          early_slice: str = 'image_x2',
                          first_conv_key: Optional[str] = None,
                          keep_conv_seg: bool = False
                          ) -> Tuple['OrderedDict[str, torch.Tensor]',
                                     CheckpointReport]:
    """Convert an SOP segmentor state dict to its stock downstream segmentor.

    Args:
        state: the SOP model's ``state_dict``.
        fusion: ``'auto'`` or one of :data:`FUSION_MODES`.
        early_slice: how the 6-channel kernel becomes 3-channel
            (:data:`mmpad.sop.first_conv.SLICE_MODES`).
        first_conv_key: the input kernel's key (auto-detected when None).
        keep_conv_seg: keep the 1-channel classifiers (backbone-only or
            binary downstream tasks).
    Returns:
        The converted state dict and a :class:`CheckpointReport`
        (``kind='sop'``: ``kept`` = ``len(matched)``, ``sliced``, ``dropped``).
    """
    if early_slice not in SLICE_MODES:
        raise ValueError(f'early_slice must be one of {SLICE_MODES}, '
                         f'got {early_slice!r}')
    fusion = detect_fusion(state) if fusion == 'auto' else fusion
    if fusion not in FUSION_MODES:
        raise ValueError(f'fusion must be "auto" or one of {FUSION_MODES}, '
                         f'got {fusion!r}')
    report = CheckpointReport(kind='sop', fusion=fusion,
                              title=f'fusion: {fusion}')
    slice_key = None
    if fusion == 'early':
        slice_key = first_conv_key or backbone_input_conv(state, 6)
        if slice_key is None or slice_key not in state:
            raise ConversionError(
                'fusion "early" but no 6-channel backbone input layer found'
                + (f' (key {first_conv_key!r} missing)' if first_conv_key else ''))
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state.items():
        drop = (not keep_conv_seg and CONV_SEG.match(key)) or \
            key.startswith(FUSION_PREFIX) or key == SEGMENT_EMBED
        if drop:
            report.dropped.append(key)
            continue
        if key == slice_key:
            new = slice_input_conv(value, early_slice)
            report.sliced[key] = (tuple(value.shape), tuple(new.shape))
            value = new
        out[key] = value
        report.matched.append(key)
    return out, report


def check_against_seg_config(state: Mapping[str, torch.Tensor],
                             config: str) -> List[str]:
    """What keeps ``state`` (a converted SOP checkpoint) from loading into the
    model of ``config`` with only ``conv_seg`` missing; [] when it does.

    The model is built by :func:`mmpad.core.checkpoint.compat.check_against_config`
    (default scope ``mmseg`` unless the config sets one; mmpad registered)."""
    from mmpad.core.checkpoint.compat import check_against_config
    report = check_against_config(state, config, default_scope='mmseg')
    problems = []
    bad_missing = [k for k in report.missing if not CONV_SEG.match(k)]
    if bad_missing:
        problems.append(f'missing in checkpoint: {bad_missing}')
    if report.unexpected:
        problems.append(f'not in the {config} model: {report.unexpected}')
    if report.shape_mismatch:
        problems.append('shape mismatch: ' + str([
            f'{k}: {list(a)} vs {list(b)}'
            for k, a, b in report.shape_mismatch]))
    return problems
