"""The vectorised box contrastive loss equals the per-instance definition of the
AlignDet paper and code (one InfoNCE term per instance id)."""
import pytest
import torch
import torch.nn.functional as F

from mmpad.aligndet.box_contrastive_loss import (BoxContrastiveLoss,
                                                      box_contrastive_loss)


def per_instance_reference(online, online_ids, target, target_ids, tau):
    """The definition written literally: one cross-entropy per instance id."""
    losses = []
    for c in torch.unique(online_ids):
        if c < 0:
            continue
        query = online[online_ids == c]
        key = target[target_ids == c] if (target_ids == c).any() else query
        neg = torch.cat([online[online_ids != c], target[target_ids != c]]).detach()
        q, k, n = F.normalize(query), F.normalize(key), F.normalize(neg)
        rows = []
        for i in range(k.size(0)):
            for j in range(q.size(0)):
                rows.append(torch.cat([(q[j] @ k[i])[None], n @ q[j]]))
        logits = torch.stack(rows) / tau  # (n*m, 1 + k)
        labels = torch.zeros(logits.size(0), dtype=torch.long)
        losses.append(F.cross_entropy(logits, labels))
    return torch.stack(losses).mean()


def _ids(n, num_instances, bg_fraction, generator):
    ids = torch.randint(0, num_instances, (n,), generator=generator)
    ids[torch.rand(n, generator=generator) < bg_fraction] = -1
    return ids


LAYOUTS = {
    # name: (n_online, n_target, online instances, target instances, bg fraction)
    'mixed_with_background': (60, 50, 8, 8, 0.4),
    'target_lacks_ids_K_is_Q': (40, 30, 10, 4, 0.2),
    'no_background': (30, 30, 5, 5, 0.0),
    'single_instance_no_negatives': (6, 4, 1, 1, 0.0),
    'many_ids_above_256': (400, 380, 300, 300, 0.1),
    'target_all_background': (20, 10, 4, 1, 1.01),
}


@pytest.mark.parametrize('layout', sorted(LAYOUTS))
def test_matches_per_instance_reference(layout):
    n_o, n_t, i_o, i_t, bg = LAYOUTS[layout]
    g = torch.Generator().manual_seed(sorted(LAYOUTS).index(layout))
    online = torch.randn(n_o, 16, generator=g, dtype=torch.float64)
    target = torch.randn(n_t, 16, generator=g, dtype=torch.float64)
    oid = _ids(n_o, i_o, min(bg, 0.5), g)
    tid = _ids(n_t, i_t, bg, g)
    if layout == 'many_ids_above_256':  # ids far beyond any embedding width
        oid = torch.where(oid >= 0, oid + 1000, oid)
        tid = torch.where(tid >= 0, tid + 1000, tid)

    a = online.clone().requires_grad_()
    b = online.clone().requires_grad_()
    fast = box_contrastive_loss(a, oid, target, tid, temperature=0.5)
    ref = per_instance_reference(b, oid, target, tid, tau=0.5)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=0), (float(fast), float(ref))
    fast.backward()
    ref.backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=0)


def test_float32_matches_float64():
    g = torch.Generator().manual_seed(0)
    online = torch.randn(200, 32, generator=g)
    target = torch.randn(150, 32, generator=g)
    oid, tid = _ids(200, 20, 0.3, g), _ids(150, 20, 0.3, g)
    l32 = box_contrastive_loss(online, oid, target, tid)
    l64 = per_instance_reference(online.double(), oid, target.double(), tid, 0.5)
    assert abs(float(l32) - float(l64)) < 1e-5


def test_no_foreground_gives_zero_connected_to_graph():
    online = torch.randn(5, 8, requires_grad=True)
    loss = box_contrastive_loss(online, torch.full((5,), -1),
                                torch.randn(3, 8), torch.tensor([0, 1, -1]))
    assert float(loss) == 0.0
    loss.backward()
    assert torch.equal(online.grad, torch.zeros_like(online))


def test_gradient_flows_only_to_online_queries():
    online = torch.randn(10, 8, requires_grad=True)
    target = torch.randn(10, 8, requires_grad=True)
    ids = torch.tensor([0, 0, 1, 1, 2, -1, -1, 3, 3, 3])
    box_contrastive_loss(online, ids, target, ids).backward()
    assert target.grad is None or torch.count_nonzero(target.grad) == 0
    # background rows are negatives only: detached, so no gradient
    assert torch.count_nonzero(online.grad[5:7]) == 0
    assert torch.count_nonzero(online.grad[:5]) > 0


def test_module_weight_temperature_and_use_sigmoid():
    g = torch.Generator().manual_seed(1)
    online, target = torch.randn(20, 8, generator=g), torch.randn(20, 8, generator=g)
    ids = torch.arange(20) % 5
    loss = BoxContrastiveLoss(temperature=0.2, loss_weight=3.0)
    expected = 3.0 * per_instance_reference(online, ids, target, ids, 0.2)
    assert torch.allclose(loss(online, ids, target, ids), expected, atol=1e-5)
    assert loss.use_sigmoid is False
    with pytest.raises(ValueError, match='temperature'):
        BoxContrastiveLoss(temperature=0.)
    with pytest.raises(ValueError, match='online'):
        loss(online[:, None], ids, target, ids)


def test_aligned_views_have_lower_loss_than_random():
    g = torch.Generator().manual_seed(2)
    centres = torch.randn(10, 32, generator=g)
    ids = torch.arange(10).repeat(3)
    online = centres[ids] + 0.05 * torch.randn(30, 32, generator=g)
    target = centres[ids] + 0.05 * torch.randn(30, 32, generator=g)
    aligned = box_contrastive_loss(online, ids, target, ids)
    shuffled = box_contrastive_loss(online, ids, target, ids[torch.randperm(30)])
    assert aligned < shuffled


def test_extra_negatives_act_as_negatives_of_every_query():
    """The gather switch (off by default; the reference takes negatives per GPU) appends
    other ranks' samples as negatives: the same as a reference batch where they carry an
    id no query has."""
    g = torch.Generator().manual_seed(4)
    online = torch.randn(30, 8, generator=g, dtype=torch.float64)
    target = torch.randn(30, 8, generator=g, dtype=torch.float64)
    extra = torch.randn(12, 8, generator=g, dtype=torch.float64)
    oid, tid = _ids(30, 5, 0.2, g), _ids(30, 5, 0.2, g)
    with_extra = box_contrastive_loss(online, oid, target, tid,
                                      extra_negatives=extra)
    foreign = torch.full((12, ), 10**6)
    ref = per_instance_reference(online, oid, torch.cat([target, extra]),
                                 torch.cat([tid, foreign]), 0.5)
    assert torch.allclose(with_extra, ref, atol=1e-6)
    assert with_extra > box_contrastive_loss(online, oid, target, tid)


def test_small_temperature_path_matches_reference():
    g = torch.Generator().manual_seed(5)
    online = torch.randn(40, 16, generator=g, dtype=torch.float64)
    target = torch.randn(40, 16, generator=g, dtype=torch.float64)
    oid, tid = _ids(40, 6, 0.3, g), _ids(40, 6, 0.3, g)
    for tau in (0.03, 0.07, 0.2):
        fast = box_contrastive_loss(online, oid, target, tid, temperature=tau)
        ref = per_instance_reference(online, oid, target, tid, tau)
        assert torch.allclose(fast, ref, atol=1e-5 * max(1., float(ref))), tau


def test_gather_switch_is_a_no_op_without_distribution():
    g = torch.Generator().manual_seed(6)
    online, target = torch.randn(20, 8, generator=g), torch.randn(20, 8, generator=g)
    ids = torch.arange(20) % 4
    local = BoxContrastiveLoss()(online, ids, target, ids)
    gathered = BoxContrastiveLoss(gather_negatives=True)(online, ids, target, ids)
    assert torch.equal(local, gathered)


@pytest.mark.parametrize('amp_dtype', [torch.bfloat16, torch.float16])
def test_mixed_precision_computes_in_float32(amp_dtype):
    """Under autocast (AmpOptimWrapper) the loss is the float32 loss: autocast's
    half-precision matrix products are switched off inside it, half embeddings
    are compared in float32, and the returned loss is float32."""
    g = torch.Generator().manual_seed(7)
    online = torch.randn(200, 64, generator=g)
    target = torch.randn(200, 64, generator=g)
    oid, tid = _ids(200, 20, 0.2, g), _ids(200, 20, 0.2, g)
    for tau in (0.5, 0.03):  # both log-sum-exp paths
        ref = box_contrastive_loss(online, oid, target, tid, temperature=tau)
        with torch.autocast('cpu', dtype=amp_dtype):
            under_amp = box_contrastive_loss(online, oid, target, tid,
                                             temperature=tau)
            half = online.to(amp_dtype).requires_grad_()
            from_half = box_contrastive_loss(half, oid, target.to(amp_dtype),
                                             tid, temperature=tau)
        assert under_amp.dtype == torch.float32
        assert torch.allclose(under_amp, ref, rtol=1e-6, atol=1e-6), tau
        assert from_half.dtype == torch.float32 and torch.isfinite(from_half)
        # only the rounding of the embeddings to half precision remains
        assert torch.allclose(from_half, ref, rtol=2e-2), tau
        from_half.backward()
        assert half.grad.dtype == amp_dtype and torch.isfinite(half.grad).all()


def test_half_embeddings_without_foreground_give_float32_zero():
    online = torch.randn(4, 8, dtype=torch.float16, requires_grad=True)
    ids = torch.full((4, ), -1)
    loss = box_contrastive_loss(online, ids, online.detach(), ids)
    assert loss.dtype == torch.float32 and loss.item() == 0.
    loss.backward()
    assert online.grad is not None
