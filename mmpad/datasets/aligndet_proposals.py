"""``AlignDetProposalDataset``: mmdet's ``CocoDataset`` for a COCO-style proposals
JSON (AlignDet pre-training), with the boxes checked against their image.

mmdet's ``CocoDataset`` silently drops boxes with no area inside the image or a
width / height below 1 and keeps boxes that stick out of the image unclipped. Here
every proposal box is checked against its image's ``width`` / ``height`` in the JSON:

* partly outside the image: clipped to ``[0, width] x [0, height]``;
* entirely outside, width or height <= 0, less than 1 px inside after clipping,
  not four finite numbers: dropped;

each file with such boxes is reported once (:mod:`mmpad.datasets.bad_samples`, kind
``bad_proposals``: one warning with the counts per reason and the first example's
image id and box, events = boxes fixed). ``strict=True`` raises
:class:`~mmpad.datasets.bad_samples.BadSampleError` on the first such box, naming the
file, the image id and the box. A file that is not valid JSON or not COCO-shaped
always raises :class:`ProposalFileError` naming the file.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import List, Optional, Tuple, Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from mmpad.datasets import bad_samples
from mmpad.datasets.bad_samples import BadSampleError


class ProposalFileError(ValueError):
    """A proposals file that cannot be read as COCO-style JSON; names the file."""


def check_box(bbox, width: float, height: float
              ) -> Tuple[str, Optional[List[float]], str]:
    """Check one COCO ``[x, y, w, h]`` box against a ``width`` x ``height`` image.

    Returns:
        ``(status, box, reason)``: status ``'ok'`` (box unchanged), ``'clipped'``
        (box clipped to the image) or ``'dropped'`` (box ``None``, ``reason``
        says why).
    """
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return 'dropped', None, 'not four numbers'
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return 'dropped', None, 'not finite'
    if w <= 0 or h <= 0:
        return 'dropped', None, 'negative or zero size'
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, float(width)), min(y + h, float(height))
    if x2 <= x1 or y2 <= y1:
        return 'dropped', None, 'entirely outside the image'
    if (x1, y1, x2, y2) == (x, y, x + w, y + h):
        return 'ok', list(bbox), ''
    if x2 - x1 < 1 or y2 - y1 < 1:
        return 'dropped', None, 'less than 1 px inside the image'
    return 'clipped', [x1, y1, x2 - x1, y2 - y1], 'partly outside the image'


@DATASETS.register_module()
class AlignDetProposalDataset(CocoDataset):
    """A COCO-style proposals JSON (one category, e.g. ``selective_search``) whose
    boxes are clipped to their image or dropped when they cannot be (see the
    module docstring).

    Args:
        strict: raise on the first box that would be clipped or dropped.
        **kwargs: :class:`mmdet.datasets.CocoDataset` arguments.
    """

    def __init__(self, *args, strict: bool = False, **kwargs) -> None:
        self.strict = strict
        self._box_problems: Counter = Counter()
        self._box_example: Optional[str] = None
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        self._box_problems = Counter()
        self._box_example = None
        try:
            data_list = super().load_data_list()
        except BadSampleError:
            raise
        except (ValueError, KeyError, TypeError, IndexError, AttributeError,
                AssertionError) as e:
            raise ProposalFileError(
                f'{type(self).__name__}: {self.ann_file} is not a valid COCO-style '
                f'proposals file ({type(e).__name__}: {e})') from e
        n = sum(self._box_problems.values())
        if n:
            detail = ', '.join(f'{v} {k}' for k, v in self._box_problems.items())
            bad_samples.report(
                self.ann_file, f'{n} proposal box(es) fixed ({detail}); e.g. '
                f'{self._box_example}', kind='bad_proposals', n=n,
                source=type(self).__name__)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        img = raw_data_info['raw_img_info']
        img_id = img.get('img_id', img.get('id'))
        width, height = img.get('width'), img.get('height')
        if not isinstance(width, (int, float)) or not isinstance(height, (int, float)) \
                or width <= 0 or height <= 0:
            raise ProposalFileError(
                f'{type(self).__name__}: {self.ann_file}: image id {img_id} '
                f'({img.get("file_name")}) has no valid width / height '
                f'({width!r} x {height!r})')
        anns = []
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('ignore', False):
                anns.append(ann)
                continue
            status, box, reason = check_box(ann.get('bbox'), width, height)
            if status != 'ok':
                label = 'clipped' if status == 'clipped' else f'dropped: {reason}'
                example = (f'image id {img_id}, box {ann.get("bbox")} '
                           f'(image {width}x{height}, w x h): {label}')
                if self.strict:
                    raise BadSampleError(self.ann_file, f'bad proposal box: {example}',
                                         'bad_proposals')
                self._box_problems[label] += 1
                if self._box_example is None:
                    self._box_example = example
            if box is None:
                continue
            ann = dict(ann, bbox=box)
            area = ann.get('area')
            if status == 'clipped' or not isinstance(area, (int, float)) or area <= 0:
                ann['area'] = box[2] * box[3]
            anns.append(ann)
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))


__all__ = ['AlignDetProposalDataset', 'ProposalFileError', 'check_box']
