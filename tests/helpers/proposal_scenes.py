"""Seeded test images for the proposal tests.

numpy only (no OpenCV drawing or blurring), so that the images, and with them the
recorded reference regions in
``tests/core/proposals/reference/selectivesearch04_regions.npz``, do not depend
on the OpenCV version. Each image carries an SHA-256 digest in the fixture, so a changed
random stream is reported as such, not as a proposal mismatch.
"""
from __future__ import annotations

import hashlib

import numpy as np

#: (height, width) of the three sizes the proposal tests and the benchmark cover
SIZES = ((256, 320), (512, 640), (1024, 1280))


def scene(height: int, width: int, colour: bool, seed: int) -> np.ndarray:
    """An (H, W, 3) uint8 scene: a vertical gradient, ellipses and rectangles
    (about 12 per 320x256 of area) of random intensity or colour, and noise.

    Gray scenes have three equal channels, as ``cv2.imread`` returns infrared
    JPEGs.
    """
    rng = np.random.default_rng(seed)
    c = 3 if colour else 1
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, c))
    img[:] = (40.0 + 60.0 * yy / height)[..., None]
    n = int(round(12 * height * width / (256 * 320)))
    for _ in range(n):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry = rng.uniform(0.02, 0.12) * height
        rx = rng.uniform(0.02, 0.12) * width
        win = (slice(max(0, int(cy - ry)), int(cy + ry) + 1),
               slice(max(0, int(cx - rx)), int(cx + rx) + 1))
        y, x = yy[win], xx[win]
        if rng.random() < 0.5:
            mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
        else:
            mask = (np.abs(y - cy) <= ry) & (np.abs(x - cx) <= rx)
        img[win][mask] = rng.uniform(0, 255, c)
    img += rng.normal(0.0, 6.0, img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return np.repeat(img, 3, axis=2) if c == 1 else img


def digest(image: np.ndarray) -> str:
    """SHA-256 of an image's shape and bytes."""
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()
