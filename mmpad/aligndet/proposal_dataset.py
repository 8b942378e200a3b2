"""``AlignDetProposalDataset``: mmdet's ``CocoDataset`` for a COCO-style proposals
JSON (AlignDet pre-training), with the boxes checked against their image.

mmdet's ``CocoDataset`` silently drops boxes with no area inside the image or a
width / height below 1 and keeps boxes that stick out of the image unclipped. Here
every proposal box is checked against its image's ``width`` / ``height`` in the JSON:

* partly outside the image: clipped to ``[0, width] x [0, height]``;
* entirely outside, width or height <= 0, less than 1 px inside after clipping,
  not four finite numbers: dropped;

each file with such boxes is reported once (:mod:`mmpad.core.bad_samples`, kind
``bad_proposals``: one warning with the counts per reason and the first example's
image id and box, events = boxes fixed). ``strict=True`` raises
:class:`~mmpad.core.bad_samples.BadSampleError` on the first such box, naming the
file, the image id and the box. A file that is not valid JSON or not COCO-shaped
always raises :class:`ProposalFileError` naming the file.

The JSON's structure is checked before mmdet indexes it (:func:`check_proposals`):

* a wrong type in a field that links records (``images`` / ``annotations`` /
  ``categories`` not lists of objects; an ``id``, ``image_id`` or
  ``category_id`` that is not an integer, e.g. ``"3"``; a ``file_name`` that is
  not a string; duplicate image ids) raises one :class:`ProposalFileError` naming
  the file, the field (``annotations[12].image_id``), its value and the expected
  type: mmdet would otherwise fail with an unrelated ``TypeError`` or, worse,
  match no proposal to its image and drop the image without a word;
* per-proposal problems are cleaned and counted with the box problems
  (``bad_proposals``): an annotation that is not an object, whose ``image_id``
  names no image or whose ``category_id`` no category, an ``iscrowd`` /
  ``ignore`` flag that is not 0 / 1 / true / false (treated as 0); ``bbox``
  values that are not four numbers (strings, nested lists, booleans) are dropped
  by :func:`check_box`. Images left without any usable proposal by the
  clean-up are named in the same warning (``filter_cfg.filter_empty_gt`` then
  leaves them out).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, List, Optional, Tuple, Union

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmpad.core import bad_samples
from mmpad.core.bad_samples import BadSampleError, printable
from mmpad.core.arg_check import check_bool, is_int, is_real


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
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or \
            not all(is_real(v) for v in bbox):
        return 'dropped', None, 'not four numbers'
    try:
        x, y, w, h = (float(v) for v in bbox)
    except OverflowError:  # an integer beyond float range
        return 'dropped', None, 'not finite'
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


def _finite(value: Any) -> bool:
    """A real number (not a bool) that is finite as a float."""
    if not is_real(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_proposals(data: Any, path: str) -> Tuple[dict, Counter, Optional[str],
                                                   List[Any]]:
    """Check and clean a loaded proposals JSON (see the module docstring).

    Returns:
        ``(data, cleaned, example, emptied)``: the data with bad annotations
        removed, a Counter of clean-ups per reason, the first one as text, and the
        ids of images that had annotations and have none left.

    Raises:
        ProposalFileError: naming ``path``, the field, its value and the expected
            type.
    """
    def fail(field: str, value: Any, expected: str) -> ProposalFileError:
        text = repr(value)
        text = text if len(text) <= 80 else text[:80] + '...'
        return ProposalFileError(printable(
            f'{path}: field {field} is {text} ({_type_name(value)}); expected '
            f'{expected}'))

    if not isinstance(data, dict):
        raise fail('<top level>', data, 'a JSON object with images, annotations '
                   'and categories')
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            raise ProposalFileError(f'{printable(path)}: field {key} is missing; a '
                                    f'COCO-style proposals file has images, '
                                    f'annotations and categories')
        if not isinstance(data[key], list):
            raise fail(key, data[key], 'a list of objects')
    image_ids = {}
    for i, img in enumerate(data['images']):
        if not isinstance(img, dict):
            raise fail(f'images[{i}]', img, 'an object')
        if 'id' not in img or not is_int(img['id']):
            raise fail(f'images[{i}].id', img.get('id'), 'an integer')
        if not isinstance(img.get('file_name'), str) or not img['file_name']:
            raise fail(f'images[{i}].file_name', img.get('file_name'),
                       'a non-empty string')
        if img['id'] in image_ids:
            raise ProposalFileError(printable(
                f'{path}: field images[{i}].id: image id {img["id"]} is also the '
                f'id of images[{image_ids[img["id"]]}] (ids must be unique; one '
                f'of the two images would be lost)'))
        image_ids[img['id']] = i
    cat_ids = set()
    for k, cat in enumerate(data['categories']):
        if not isinstance(cat, dict):
            raise fail(f'categories[{k}]', cat, 'an object')
        if 'id' not in cat or not is_int(cat['id']):
            raise fail(f'categories[{k}].id', cat.get('id'), 'an integer')
        if not isinstance(cat.get('name'), str):
            raise fail(f'categories[{k}].name', cat.get('name'), 'a string')
        cat_ids.add(cat['id'])

    cleaned: Counter = Counter()
    example: List[str] = []

    def clean(reason: str, j: int, value: Any) -> None:
        cleaned[reason] += 1
        if not example:
            text = repr(value)
            example.append(f'annotations[{j}] = '
                           f'{text if len(text) <= 80 else text[:80] + "..."}: '
                           f'{reason}')

    had = set()
    kept = []
    for j, ann in enumerate(data['annotations']):
        if not isinstance(ann, dict):
            clean('annotation not an object (dropped)', j, ann)
            continue
        for key in ('id', 'image_id', 'category_id'):
            if key not in ann or not is_int(ann[key]):
                raise fail(f'annotations[{j}].{key}', ann.get(key), 'an integer')
        had.add(ann['image_id'])
        if ann['image_id'] not in image_ids:
            clean('image_id of no image (dropped)', j, ann['image_id'])
            continue
        if ann['category_id'] not in cat_ids:
            clean('category_id of no category (dropped)', j, ann['category_id'])
            continue
        for flag in ('iscrowd', 'ignore'):
            value = ann.get(flag, 0)
            if not (isinstance(value, bool) or is_int(value)) or value not in (0, 1):
                clean(f'{flag} not 0 / 1 (set to 0)', j, value)
                ann = dict(ann, **{flag: 0})
        kept.append(ann)
    left = {ann['image_id'] for ann in kept}
    emptied = sorted(i for i in had if i in image_ids and i not in left)
    data = dict(data, annotations=kept)
    return data, cleaned, (example[0] if example else None), emptied


def _checked_coco(dataset: 'AlignDetProposalDataset') -> type:
    """mmdet's COCO API that runs :func:`check_proposals` before indexing."""

    class CheckedCOCO(COCO):

        def createIndex(self) -> None:  # noqa: N802 - pycocotools' name
            (self.dataset, dataset._cleaned, dataset._clean_example,
             dataset._emptied) = check_proposals(self.dataset, dataset.ann_file)
            super().createIndex()

    return CheckedCOCO


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
        self.strict = check_bool(type(self).__name__, 'strict', strict)
        self._cleaned: Counter = Counter()
        self._clean_example: Optional[str] = None
        self._emptied: List[Any] = []
        self._had_boxes: set = set()
        self._box_problems: Counter = Counter()
        self._box_example: Optional[str] = None
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        self._box_problems = Counter()
        self._box_example = None
        self._cleaned, self._clean_example, self._emptied = Counter(), None, []
        self._had_boxes = set()
        self.COCOAPI = _checked_coco(self)
        try:
            data_list = super().load_data_list()
        except (BadSampleError, ProposalFileError):
            raise
        except (ValueError, KeyError, TypeError, IndexError, AttributeError,
                AssertionError, RecursionError, OverflowError) as e:
            raise ProposalFileError(printable(
                f'{type(self).__name__}: {self.ann_file} is not a valid COCO-style '
                f'proposals file ({type(e).__name__}: {e})')) from e
        finally:
            self.__dict__.pop('COCOAPI', None)  # a local class: keep it picklable
        if self.strict and self._cleaned:
            raise BadSampleError(self.ann_file, f'bad proposal entry: '
                                 f'{self._clean_example}', 'bad_proposals')
        # images whose every proposal was dropped (by the clean-up or the box
        # check): filter_cfg.filter_empty_gt leaves them out, so say which
        emptied = set(self._emptied)
        emptied.update(d['img_id'] for d in data_list if not d['instances'] and
                       d['img_id'] in self._had_boxes)
        n = sum(self._box_problems.values()) + sum(self._cleaned.values())
        if n:
            parts = [f'{v} {k}' for k, v in self._box_problems.items()]
            parts += [f'{v} {k}' for k, v in self._cleaned.items()]
            example = self._box_example or self._clean_example
            lost = ''
            if emptied:
                ids = sorted(emptied)
                lost = (f'; {len(ids)} image(s) have no usable proposal left '
                        f'(ids {ids[:10]}{"..." if len(ids) > 10 else ""})')
            bad_samples.report(
                self.ann_file, f'{n} proposal box(es) fixed ({", ".join(parts)})'
                f'; e.g. {example}{lost}', kind='bad_proposals', n=n,
                source=type(self).__name__)
        return data_list

    def filter_data(self) -> List[dict]:
        """mmdet's ``filter_data``; the images it leaves out (no proposal of the
        classes, smaller than ``filter_cfg.min_size``) are counted in one warning
        naming the file, so that no image disappears without a word."""
        kept = super().filter_data()
        if not self.data_list:
            raise ProposalFileError(f'{printable(self.ann_file)}: no image is left: '
                                    f'the file lists no image')
        if len(kept) == len(self.data_list):
            return kept
        ids = {d['img_id'] for d in kept}
        lost = [d for d in self.data_list if d['img_id'] not in ids]
        min_size = (self.filter_cfg or {}).get('min_size', 0)
        small = [d['img_id'] for d in lost if min(d['width'], d['height']) < min_size]
        empty = [d['img_id'] for d in lost if d['img_id'] not in set(small)]
        what = (f'filter_cfg leaves out {len(lost)} of {len(self.data_list)} images '
                f'({len(empty)} without a proposal of the classes '
                f'{list(self.metainfo.get("classes", ()))}, {len(small)} smaller '
                f'than min_size={min_size}); ids {sorted(empty + small)[:10]}'
                f'{"..." if len(lost) > 10 else ""}')
        if not kept:  # mmengine would fail on the empty list with a bare error
            raise ProposalFileError(printable(f'{self.ann_file}: no image is left: '
                                              f'{what}'))
        print_log(printable(f'{type(self).__name__}: {self.ann_file}: {what}'),
                  logger='current', level=30)
        return kept

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        img = raw_data_info['raw_img_info']
        img_id = img.get('img_id', img.get('id'))
        width, height = img.get('width'), img.get('height')
        if not _finite(width) or not _finite(height) or width <= 0 or height <= 0:
            raise ProposalFileError(printable(
                f'{type(self).__name__}: {self.ann_file}: image id {img_id} '
                f'({img.get("file_name")}) has no valid width / height '
                f'({width!r} x {height!r})'))
        anns = []
        if raw_data_info['raw_ann_info']:
            self._had_boxes.add(img_id)
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('ignore', False):
                anns.append(ann)
                continue
            if ann['category_id'] not in self.cat_ids:
                # mmdet would skip it without a word (a file whose category is
                # not named like metainfo.classes loses every image)
                label = (f'category_id {ann["category_id"]} not among the '
                         f'classes {list(self.metainfo.get("classes", ()))} '
                         f'(dropped)')
                self._cleaned[label] += 1
                if self._clean_example is None:
                    self._clean_example = f'image id {img_id}: {label}'
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
            if status == 'clipped' or not _finite(area) or area <= 0:
                ann['area'] = box[2] * box[3]
            anns.append(ann)
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=anns))


__all__ = ['AlignDetProposalDataset', 'ProposalFileError', 'check_box']
