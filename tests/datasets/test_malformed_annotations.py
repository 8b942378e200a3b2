"""RoI files with numeric overflow and proposal files with type-confused fields
(issue #13): bad RoI lines are cleaned and counted and the image is kept; a proposal
file either fails with one error naming the file and the field, or is cleaned with
a counted warning, and no good image is lost."""
import json

import numpy as np
import pytest
from mmengine.registry import DefaultScope

import mmpad  # noqa: F401
from mmpad.core import bad_samples
from mmpad.aligndet.proposal_dataset import (AlignDetProposalDataset,
                                               ProposalFileError, check_box)
from mmpad.pad.msip import MSIPDataset
from mmpad.pad.roi_reading import read_rois_reported
from mmpad.pad.roi_crop import ObjectSensitiveRandomRoICrop
from mmpad.core.proposals.roi_file import parse_roi_text

from bad_data import LogFile, write_good_images

OVERFLOW = '99999999999999999999'


def test_overflowing_roi_values_are_bad_lines():
    rois, problems = parse_roi_text(
        f'10,10,60,50\n{OVERFLOW},0,10,10\n0,-{OVERFLOW},10,10\n'
        f'0,0,{2**31},5\n20,15,70,60\n', 'r.txt')
    assert rois.tolist() == [[10, 10, 60, 50], [20, 15, 70, 60]]
    assert len(problems) == 3 and all('out of range' in p for p in problems)
    # a byte-order mark does not cost the first line
    rois, problems = parse_roi_text('\ufeff10,10,60,50\n', 'r.txt')
    assert problems and 'expected 4' in problems[0]  # parse_roi_text gets text


def test_msip_start_up_and_roi_crop_keep_the_image(tmp_path):
    thermal = tmp_path / 'msip' / 's' / 'thermal'
    names = write_good_images(str(thermal), 3)
    roi = tmp_path / 'msip' / 's' / 'roi'
    roi.mkdir()
    (roi / '0000000.txt').write_text(f'{OVERFLOW},1,2,3\n10,10,60,50\n')
    (roi / '0000001.txt').write_text(f'{OVERFLOW},1,2,3\n')
    (roi / '0000002.txt').write_bytes(b'\xef\xbb\xbf10,10,60,50\r\n')  # BOM, CRLF
    with LogFile(str(tmp_path / 'log.txt')) as log:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            ds = MSIPDataset(data_root=str(tmp_path / 'msip'), load_rois=True,
                             pipeline=[])
        assert len(ds) == 3  # no image dropped
        assert [ds.get_data_info(i)['rois'].tolist() for i in range(3)] == [
            [[10, 10, 60, 50]], [], [[10, 10, 60, 50]]]
        assert log.count('0000000.txt') == 1 and log.count('0000001.txt') == 1
        assert 'value out of range' in log.text()
    assert bad_samples.counts()['files'] == {'bad_roi_lines': 2}
    # the lazy path (the RoI crop reading the file) keeps the image as well
    crop = ObjectSensitiveRandomRoICrop(size=32, min_size=16, min_roi_size=8)
    img = np.zeros((96, 128, 3), np.uint8)
    for name in names:
        path = str(roi / name.replace('.jpg', '.txt'))
        out = crop(dict(img=img.copy(), roi_path=path))
        assert out['img'].shape == (32, 32, 3)
    rois, n_bad = read_rois_reported(str(roi / '0000000.txt'), False, 'test',
                                     fallback='x')
    assert rois.tolist() == [[10, 10, 60, 50]] and n_bad == 1


# ------------------------------------------------------------------ proposals
def _proposals(n=3):
    images = [dict(id=i, file_name=f'{i:07d}.jpg', width=128, height=96)
              for i in range(1, n + 1)]
    anns = []
    for i in range(1, n + 1):
        for box in ([4, 4, 40, 30], [30, 20, 50, 40]):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=1, bbox=box,
                             area=box[2] * box[3], iscrowd=0))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='selective_search')])


def _build(tmp_path, data, name='p.json', **kwargs):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    with DefaultScope.overwrite_default_scope('mmdet'):
        return AlignDetProposalDataset(
            ann_file=str(path), data_prefix=dict(img=str(tmp_path)),
            metainfo=dict(classes=('selective_search', )), pipeline=[],
            filter_cfg=dict(filter_empty_gt=True, min_size=32), **kwargs)


def _ids(ds):
    return sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds)))


@pytest.mark.parametrize('mutate,field', [
    (lambda d: d['annotations'][2].update(image_id='2'), r'annotations\[2\]\.image_id'),
    (lambda d: d['annotations'][0].update(category_id='1'),
     r'annotations\[0\]\.category_id'),
    (lambda d: d['annotations'][1].update(id=None), r'annotations\[1\]\.id'),
    (lambda d: d['images'][1].update(id='2'), r'images\[1\]\.id'),
    (lambda d: d['images'][0].update(id=1.0), r'images\[0\]\.id'),
    (lambda d: d['images'][2].update(file_name=7), r'images\[2\]\.file_name'),
    (lambda d: d['images'][2].update(id=1), r'images\[2\]\.id: image id 1 is '
     r'also the id of images\[0\]'),
    (lambda d: d.update(annotations={'0': d['annotations'][0]}), r'annotations is'),
    (lambda d: d.update(images=None), r'images is None'),
    (lambda d: d.pop('categories'), r'categories is missing'),
    (lambda d: d['categories'][0].update(id='1'), r'categories\[0\]\.id'),
    (lambda d: d['images'].__setitem__(0, [1, 'a.jpg']), r'images\[0\] is'),
])
def test_type_confused_linking_fields_fail_naming_file_and_field(tmp_path, mutate,
                                                                   field):
    data = _proposals()
    mutate(data)
    with pytest.raises(ProposalFileError, match=rf'p\.json: field {field}'):
        _build(tmp_path, data)


def test_stock_mmdet_loses_images_or_fails_unrelated(tmp_path):
    """What the checks prevent: mmdet's CocoDataset drops the image whose
    annotations name it as "2" without a word."""
    from mmdet.datasets import CocoDataset
    data = _proposals()
    for ann in data['annotations']:
        if ann['image_id'] == 2:
            ann['image_id'] = '2'
    (tmp_path / 'p.json').write_text(json.dumps(data))
    with DefaultScope.overwrite_default_scope('mmdet'):
        stock = CocoDataset(ann_file=str(tmp_path / 'p.json'),
                            data_prefix=dict(img=str(tmp_path)),
                            metainfo=dict(classes=('selective_search', )),
                            pipeline=[], filter_cfg=dict(filter_empty_gt=True))
    assert _ids(stock) == [1, 3]


def test_per_proposal_garbage_is_cleaned_counted_and_named(tmp_path):
    data = _proposals()
    anns = data['annotations']
    anns[0]['bbox'] = '1234'             # a string, not four numbers
    anns[1]['bbox'] = [[1], [2], [3], [4]]
    anns[2]['iscrowd'] = '0'             # truthy string: mmdet would ignore it
    anns.append(dict(id=100, image_id=99, category_id=1, bbox=[1, 1, 9, 9]))
    anns.append(dict(id=101, image_id=3, category_id=5, bbox=[1, 1, 9, 9]))
    anns.append([1, 2, 3])               # nested garbage
    anns.append(dict(id=102, image_id=3, category_id=1, bbox=[1, True, 9, 9]))
    anns.append(dict(id=103, image_id=3, category_id=1, bbox=[1, 1, 10**400, 9]))
    with LogFile(str(tmp_path / 'log.txt')) as log:
        ds = _build(tmp_path, data)
        text = log.text()
    assert log.count('p.json') == 1
    assert _ids(ds) == [1, 2, 3]         # no image lost; image 1 lost both
    assert '1 image(s) have no usable proposal left (ids [1])' in text  # boxes
    assert ds.get_data_info(0)['instances'] == []
    for reason in ('3 dropped: not four numbers', '1 dropped: not finite',
                   '1 iscrowd not 0 / 1 (set to 0)',
                   '1 image_id of no image (dropped)',
                   '1 category_id of no category (dropped)',
                   '1 annotation not an object (dropped)'):
        assert reason in text, (reason, text)
    info = {ds.get_data_info(i)['img_id']: ds.get_data_info(i) for i in range(3)}
    assert [inst['ignore_flag'] for inst in info[2]['instances']] == [0, 0]
    assert bad_samples.counts()['files'] == {'bad_proposals': 1}
    assert check_box('1234', 10, 10)[2] == 'not four numbers'
    assert check_box([1, True, 3, 3], 10, 10)[2] == 'not four numbers'


def test_category_not_named_like_the_classes_is_reported(tmp_path):
    data = _proposals()
    data['categories'][0]['name'] = 'proposal'
    with LogFile(str(tmp_path / 'log.txt')) as log:
        with pytest.raises(ProposalFileError,
                           match=r'p\.json: no image is left: filter_cfg leaves out '
                                 r'3 of 3 images \(3 without a proposal of the '
                                 r"classes \['selective_search'\]"):
            _build(tmp_path, data)
        text = log.text()
    assert "not among the classes ['selective_search']" in text
    assert '3 image(s) have no usable proposal left' in text
