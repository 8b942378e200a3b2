"""Small helpers for the PNG pictures the tools write."""
import os
import os.path as osp

import numpy as np


def save_image_grid(grid: np.ndarray, title: str, out: str) -> str:
    """Write an (H, W, 3) uint8 image with a title to the PNG ``out``; returns it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    h, w = grid.shape[:2]
    fig = plt.figure(figsize=(max(4, w / 40), h / 40 + 0.4), dpi=100)
    plt.imshow(grid, interpolation='nearest')
    plt.axis('off')
    plt.title(title, fontsize=9)
    fig.savefig(out, bbox_inches='tight')
    plt.close(fig)
    return out
