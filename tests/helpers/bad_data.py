"""Generated bad input files for the bad-data tests (issue #9).

Every bad file has a name that appears in no other file's name, so a test can count
the log lines that name it.
"""
import json
import logging
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np

#: bad image name -> the kind LoadImageFromFileSafe reports (min_size 64)
BAD_IMAGES = {
    'bad_trunc_jpg.jpg': 'truncated',
    'bad_trunc_png.png': 'truncated',
    'bad_empty.jpg': 'empty_file',
    'bad_text.jpg': 'not_an_image',
    'bad_small.jpg': 'too_small',
}
#: converted, not skipped
DEEP_PNG = 'deep16.png'
DEEP_MAX = 4000


def infrared_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w) uint8 smooth gradient with blobs and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 60 + 80 * yy / max(h - 1, 1) + 20 * np.sin(xx / 7.0)
    for _ in range(3):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        img += 90 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 8.0 ** 2))
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def write_bad_images(folder: str, size=(96, 128)) -> Dict[str, str]:
    """Write the files of :data:`BAD_IMAGES` and :data:`DEEP_PNG` into ``folder``;
    returns {name: kind} of the bad ones."""
    os.makedirs(folder, exist_ok=True)
    h, w = size
    jpg = encode(infrared_like(h, w, 1), '.jpg')
    png = encode(infrared_like(h, w, 2), '.png')
    files = {
        'bad_trunc_jpg.jpg': jpg[:int(len(jpg) * 0.6)],
        'bad_trunc_png.png': png[:int(len(png) * 0.6)],
        'bad_empty.jpg': b'',
        'bad_text.jpg': b'this is a text file, not a JPEG\n' * 4,
        'bad_small.jpg': encode(infrared_like(8, 8, 3), '.jpg'),
    }
    for name, data in files.items():
        with open(osp.join(folder, name), 'wb') as f:
            f.write(data)
    ramp = np.linspace(0, DEEP_MAX, h * w).reshape(h, w).astype(np.uint16)
    assert cv2.imwrite(osp.join(folder, DEEP_PNG), ramp)
    return dict(BAD_IMAGES)


def write_good_images(folder: str, n: int, size=(96, 128), prefix: str = '') -> List[str]:
    os.makedirs(folder, exist_ok=True)
    names = []
    for i in range(n):
        name = f'{prefix}{i:07d}.jpg'
        cv2.imwrite(osp.join(folder, name), infrared_like(*size, seed=10 + i))
        names.append(name)
    return names


#: RoI file with two good lines and three bad ones (lines 2, 4, 5)
BAD_ROI_TEXT = '10,10,60,50\nnot,a,box\n20,15,70,60\n1,2,3\n5,5,-4,9\n'


def write_bad_proposals(path: str, img_names: List[str], size=(96, 128)) -> dict:
    """COCO-style proposals for ``img_names`` (ids 1..n): per image two good boxes;
    image 1 also has one box partly outside (clipped), one entirely outside, one of
    negative width and one of zero height (dropped). Returns what to expect."""
    h, w = size
    images, anns = [], []

    def add(img_id, bbox):
        anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1,
                         bbox=bbox, area=abs(bbox[2] * bbox[3]), iscrowd=0))

    for i, name in enumerate(img_names, start=1):
        images.append(dict(id=i, file_name=name, height=h, width=w))
        add(i, [4, 4, 40, 30])
        add(i, [30, 20, 50, 40])
    add(1, [w - 20, h - 10, 50, 40])      # partly outside -> clipped to 20 x 10
    add(1, [w + 5, 5, 10, 10])            # entirely outside -> dropped
    add(1, [10, 10, -15, 20])             # negative width -> dropped
    add(1, [10, 10, 20, 0])               # zero height -> dropped
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=[dict(id=1, name='selective_search')]), f)
    return dict(clipped=1, dropped=3, clipped_box=[w - 20, h - 10, 20, 10],
                good_per_image=2)


class LogFile:
    """Attach a file handler to the current MMLogger, so that records logged in
    forked DataLoader workers (which inherit the handler) are collected too."""

    def __init__(self, path: str):
        from mmengine.logging import MMLogger
        self.path = path
        self.logger = MMLogger.get_current_instance()
        self.handler = logging.FileHandler(path, mode='a')  # O_APPEND: workers too
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter('%(levelname)s %(message)s'))

    def __enter__(self):
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.handler.close()

    def text(self) -> str:
        self.handler.flush()
        with open(self.path) as f:
            return f.read()

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.text().splitlines())
