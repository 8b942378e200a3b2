"""PCA and k-means of proposal features: the cluster ids that serve as classes in
AlignDet's DETR pre-training (DETR's Hungarian matching needs classes).

Host-free (numpy and torch only). ``tools/aligndet_cluster_proposals.py`` extracts
the RoI features and calls these:

1. :class:`StreamingCovariance` accumulates the mean and covariance of the (N, C)
   features chunk by chunk and gives the top PCA components;
2. :func:`pca_project` maps the features, read in chunks (e.g. from a float16
   memory map), to (N, D);
3. :func:`kmeans` clusters them: k-means++ initialisation with a fixed seed, Lloyd
   iterations until no assignment changes, empty clusters re-seeded with the
   farthest points.
"""
from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import torch

#: rows handled at once when projecting or assigning points.
CHUNK = 65536


class StreamingCovariance:
    """Mean and covariance of row vectors seen in chunks (float64).

    Args:
        dim: C, the length of each vector.
    """

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def update(self, x: torch.Tensor) -> None:
        """Add the rows of ``x`` (M, C)."""
        x = x.double()
        self.n += x.size(0)
        self.total += x.sum(0)
        self.outer += x.t() @ x

    def pca(self, dim: int) -> Tuple[torch.Tensor, torch.Tensor, float]:
        """Mean (C,), the top ``dim`` components (C, dim) as columns, and the
        ratio of the variance they explain.

        Raises:
            ValueError: fewer than 2 rows were seen.
        """
        if self.n < 2:
            raise ValueError('PCA needs at least 2 proposals')
        mean = self.total / self.n
        cov = (self.outer - self.n * torch.outer(mean, mean)) / (self.n - 1)
        values, vectors = torch.linalg.eigh(cov)
        order = values.argsort(descending=True)[:dim]
        ratio = float(values[order].clamp(min=0).sum() /
                      values.clamp(min=0).sum().clamp(min=1e-12))
        return mean.float(), vectors[:, order].float(), ratio


def pca_project(features: Union[np.ndarray, torch.Tensor], mean: torch.Tensor,
                components: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``(features - mean) @ components`` in float32, ``chunk`` rows at a time.

    Args:
        features: (N, C) array of any float dtype, e.g. a float16 memory map that
            is read one chunk at a time.
        mean: (C,) mean of :meth:`StreamingCovariance.pca`.
        components: (C, D) components of :meth:`StreamingCovariance.pca`.

    Returns:
        (N, D) float32 tensor.
    """
    num = features.shape[0]
    reduced = torch.empty(num, components.size(1))
    for i in range(0, num, chunk):
        part = features[i:i + chunk]
        part = part.float() if isinstance(part, torch.Tensor) else \
            torch.from_numpy(np.asarray(part, dtype=np.float32))
        reduced[i:i + chunk] = (part - mean) @ components
    return reduced


def sq_distances(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N, K) squared euclidean distances of points (N, D) to centres (K, D)."""
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ centres.t() +
            centres.pow(2).sum(1)[None]).clamp(min=0)


def nearest(x: torch.Tensor, centres: torch.Tensor,
            chunk: int = CHUNK) -> torch.Tensor:
    """(N,) index of the nearest of the centres (K, D) for each point of x (N, D),
    ``chunk`` points at a time."""
    return torch.cat([sq_distances(x[i:i + chunk], centres).argmin(1)
                      for i in range(0, x.size(0), chunk)])


def kmeans(x: torch.Tensor, k: int, iters: int = 100,
           seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """Lloyd's k-means with k-means++ initialisation.

    Args:
        x: (N, D) points.
        k: number of clusters.
        iters: maximum Lloyd iterations; it stops earlier when no assignment
            changes.
        seed: seed of the k-means++ sampling (the result depends only on it).

    Returns:
        centres (k, D), assignment (N,) in ``[0, k)``, iterations run.

    Raises:
        ValueError: fewer than ``k`` points.
    """
    n = x.size(0)
    if n < k:
        raise ValueError(f'k-means needs at least k={k} points, got {n}')
    g = torch.Generator().manual_seed(seed)
    centres = x[torch.randint(n, (1, ), generator=g)]
    closest = sq_distances(x, centres).squeeze(1)
    for _ in range(1, k):
        probs = closest / closest.sum() if closest.sum() > 0 else \
            torch.full_like(closest, 1.0 / n)
        new = x[torch.multinomial(probs, 1, generator=g)]
        centres = torch.cat([centres, new])
        closest = torch.minimum(closest, sq_distances(x, new).squeeze(1))
    assign = nearest(x, centres)
    it = 0
    for it in range(1, iters + 1):
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        empty = counts == 0
        centres = torch.where(empty[:, None], centres,
                              sums / counts.clamp(min=1)[:, None])
        if empty.any():  # re-seed empty clusters with the farthest points
            far = sq_distances(x, centres).min(1).values.topk(
                int(empty.sum())).indices
            centres[empty] = x[far]
        new_assign = nearest(x, centres)
        if torch.equal(new_assign, assign):
            break
        assign = new_assign
    return centres, assign, it
