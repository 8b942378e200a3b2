"""AlignDet pre-training checkpoint -> weights a stock mmdet detector of the same
family loads with ``load_from``. Pure torch.

Keeps the **online** detector (prefix ``online.`` stripped) and drops

* the momentum target (``target.*``),
* the embedding projectors / classifiers: keys with a ``retina_cls``,
  ``conv_cls``, ``fc_cls`` or ``projector`` part (DETR's projector would
  otherwise be left behind as an unexpected key),
* the regressors: ``retina_reg``, ``conv_reg``, ``conv_centerness``, ``fc_reg``
  (kept with ``keep_regressors=True``),
* anything else that is not under ``online.`` (e.g. ``data_preprocessor.*``).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

import torch

from mmpad.core.checkpoint.errors import CheckpointConversionError

ONLINE = 'online.'
TARGET = 'target.'
CLASSIFIERS = ('retina_cls', 'conv_cls', 'fc_cls', 'projector')
REGRESSORS = ('retina_reg', 'conv_reg', 'conv_centerness', 'fc_reg')
#: the groups of :func:`convert_state_dict`'s report
GROUPS = ('kept', 'target', 'classifier', 'regressor', 'other')


def convert_state_dict(
        state: Mapping[str, torch.Tensor], keep_regressors: bool = False,
        source: str = '<state_dict>', progress: bool = True
) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """The online detector's weights without projectors (and regressors).

    Args:
        state: the pre-trainer's ``state_dict``.
        keep_regressors: keep the regression layers.
        source: named in the error.
        progress: show a progress bar.

    Returns:
        The converted state dict and :data:`GROUPS` -> original key names.

    Raises:
        CheckpointConversionError: no key starts with ``online.`` (not an
            AlignDet pre-training checkpoint).
    """
    from tqdm import tqdm
    if not any(k.startswith(ONLINE) for k in state):
        sample = ', '.join(sorted(state)[:3])
        raise CheckpointConversionError(
            f'{source}: not an AlignDet pre-training checkpoint: no key starts '
            f'with {ONLINE!r} (first keys: {sample})')
    out: Dict[str, torch.Tensor] = {}
    report: Dict[str, List[str]] = {k: [] for k in GROUPS}
    for key in tqdm(sorted(state), desc='converting', unit='key', leave=False,
                    disable=not progress):
        if key.startswith(TARGET):
            report['target'].append(key)
            continue
        if not key.startswith(ONLINE):
            report['other'].append(key)
            continue
        name = key[len(ONLINE):]
        parts = name.split('.')
        if any(c in parts for c in CLASSIFIERS):
            report['classifier'].append(key)
        elif not keep_regressors and any(r in parts for r in REGRESSORS):
            report['regressor'].append(key)
        else:
            out[name] = state[key]
            report['kept'].append(key)
    return out, report
