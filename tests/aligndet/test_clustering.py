"""mmpad.aligndet.clustering: streaming PCA, projection and k-means of proposal
features (the cluster ids of AlignDet's DETR pre-training)."""
import numpy as np
import pytest
import torch

from mmpad.aligndet import clustering
from mmpad.registration import scan


def test_clustering_needs_no_host():
    assert scan()['mmpad.aligndet.clustering'].hosts == frozenset()


def test_kmeans_recovers_separated_blobs():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0., 0.], [10., 0.], [0., 10.], [10., 10.]])
    truth = torch.arange(4).repeat_interleave(50)
    x = centres[truth] + 0.5 * torch.randn(200, 2, generator=g)
    _, assign, iters = clustering.kmeans(x, 4, seed=3)
    # every true blob maps to exactly one cluster and vice versa
    pairs = set(zip(truth.tolist(), assign.tolist()))
    assert len(pairs) == 4 and len({a for _, a in pairs}) == 4
    assert iters < 100
    with pytest.raises(ValueError, match='at least k=5'):
        clustering.kmeans(x[:4], 5)


def test_streaming_pca_matches_batch_pca():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 6, generator=g) @ torch.randn(6, 6, generator=g)
    cov = clustering.StreamingCovariance(6)
    for chunk in x.split(70):
        cov.update(chunk)
    mean, comps, ratio = cov.pca(3)
    assert torch.allclose(mean, x.mean(0), atol=1e-5)
    _, s, v = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    for i in range(3):  # same principal directions, up to sign
        assert abs(float(comps[:, i] @ v[i])) == pytest.approx(1.0, abs=1e-4)
    assert ratio == pytest.approx(float((s[:3] ** 2).sum() / (s ** 2).sum()),
                                  abs=1e-5)


def test_pca_project_reads_float16_chunks_like_one_product(tmp_path):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 6, generator=g)
    features = np.lib.format.open_memmap(str(tmp_path / 'f.f16'), mode='w+',
                                         dtype=np.float16, shape=(50, 6))
    features[:] = x.numpy().astype(np.float16)
    cov = clustering.StreamingCovariance(6)
    cov.update(torch.from_numpy(np.asarray(features, dtype=np.float32)))
    mean, comps, _ = cov.pca(3)
    reduced = clustering.pca_project(features, mean, comps, chunk=16)
    assert reduced.shape == (50, 3) and reduced.dtype == torch.float32
    expected = (torch.from_numpy(np.asarray(features, dtype=np.float32)) -
                mean) @ comps
    assert torch.allclose(reduced, expected, atol=1e-5)
    # a tensor works too, and the chunk size does not change the result
    assert torch.allclose(clustering.pca_project(x, mean, comps, chunk=7),
                          (x - mean) @ comps, atol=1e-5)


def test_pca_needs_two_rows():
    cov = clustering.StreamingCovariance(3)
    cov.update(torch.ones(1, 3))
    with pytest.raises(ValueError, match='at least 2'):
        cov.pca(2)


def test_kmeans_is_seeded_and_nearest_is_chunk_free():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(120, 3, generator=g)
    a = clustering.kmeans(x, 5, seed=1)
    b = clustering.kmeans(x, 5, seed=1)
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
    assert torch.equal(clustering.nearest(x, a[0], chunk=11),
                       clustering.nearest(x, a[0]))
    # the returned assignment is the nearest centre of every point
    assert torch.equal(a[1], clustering.nearest(x, a[0]))
