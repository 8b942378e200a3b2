"""AlignDet's box-level instance-contrastive loss, vectorised.

For every instance id ``c`` present among the online samples (background, id < 0,
excluded), with

* ``Q`` (m x D): online embeddings labelled ``c``,
* ``K`` (n x D): target embeddings labelled ``c``; **if there are none, K = Q**,
* ``N`` (k x D): detached online and target embeddings whose label is not ``c``,
  background included,

and every vector L2-normalised::

    l_ij = -log( exp(q_j.k_i/t) / (exp(q_j.k_i/t) + sum_{v in N} exp(q_j.v/t)) )
    L_c  = mean_{i, j} l_ij            L = mean_c L_c

This is the reference's per-instance cross-entropy over (n*m, 1 + k) logits, computed
for all instances at once: one (M, N_neg) similarity matrix gives every query's
log-sum-exp over its negatives, one (M, N_key) matrix the positive logits, and each
pair is weighted by ``1 / (|C| m_c n_c)``. No Python loop over instances.

Gradients reach only the online queries (target keys and all negatives are
detached), except through ``K = Q`` pairs, where both sides are online queries
(as in the reference). Negatives come from the local batch, as in the reference;
``gather_negatives=True`` adds the other ranks' samples as extra negatives.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet.registry import MODELS

from mmpad.core.arg_check import check_bool, check_float

def _check_inputs(embeds: Tensor, ids: Tensor, name: str) -> None:
    if embeds.dim() != 2 or ids.dim() != 1 or embeds.size(0) != ids.size(0):
        raise ValueError(
            f'{name}: expected embeddings (N, D) and ids (N,), got '
            f'{tuple(embeds.shape)} and {tuple(ids.shape)}')


#: Below this temperature exp((q.v - 1) / t) may underflow in float32, so the
#: negatives' log-sum-exp takes the (slower) max-shifted path.
_SHIFTED_EXP_MIN_TEMPERATURE = 0.05


def _masked_logsumexp(logits: Tensor, mask: Tensor) -> Tensor:
    """Row-wise log-sum-exp over ``mask``; ``-inf`` (with finite gradients) for
    rows where the mask is empty."""
    has_any = mask.any(dim=1)
    masked = logits.masked_fill(~mask, float('-inf'))
    # rows without any entry: compute on zeros so that the backward stays finite,
    # then discard the value
    masked = masked.masked_fill(~has_any[:, None], 0.)
    lse = masked.logsumexp(dim=1)
    return torch.where(has_any, lse, torch.full_like(lse, float('-inf')))


def _negatives_logsumexp(scaled_queries: Tensor, query_ids: Tensor,
                         negatives: Tensor, negative_ids: Tensor,
                         temperature: float) -> Tensor:
    """``log sum_{v: id_v != id_j} exp(q_j . v / t)`` for every query row j.

    ``scaled_queries`` are the unit queries divided by ``t``. With unit vectors
    every logit is at most ``1 / t``, so ``exp(logit - 1 / t)`` needs no row
    maximum: one matrix product, one in-place exp, one mask and one sum, instead
    of a masked log-sum-exp's half-dozen passes over the (M, N) matrix.
    """
    same = negative_ids[None, :] == query_ids[:, None]  # (M, N)
    logits = scaled_queries @ negatives.t()
    if temperature < _SHIFTED_EXP_MIN_TEMPERATURE:
        return _masked_logsumexp(logits, ~same)
    shift = 1.0 / temperature
    weights = logits.sub_(shift).exp_().masked_fill(same, 0.)
    total = weights.sum(dim=1)
    has_neg = same.size(1) - same.sum(dim=1) > 0
    log_total = total.clamp_min(torch.finfo(total.dtype).tiny).log() + shift
    return torch.where(has_neg, log_total, torch.full_like(log_total,
                                                           float('-inf')))


def _autocast_off(device_type: str):
    """A context in which autocast is disabled for ``device_type`` (a no-op
    context for devices without autocast support)."""
    if device_type in ('cpu', 'cuda', 'xpu', 'npu', 'mlu', 'musa'):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()


def box_contrastive_loss(online_embeds: Tensor,
                         online_ids: Tensor,
                         target_embeds: Tensor,
                         target_ids: Tensor,
                         temperature: float = 0.5,
                         extra_negatives: Tensor | None = None) -> Tensor:
    """Instance-contrastive loss between online and target box embeddings.

    Mixed precision: the loss is computed in float32 (float64 for float64
    inputs) with autocast disabled, so that under ``AmpOptimWrapper`` neither
    half-precision embeddings nor autocast's half-precision matrix products
    enter the ``exp`` / log-sum-exp; the returned loss is float32 then, as
    torch's own losses are under autocast.

    Args:
        online_embeds: (N_o, D) online embeddings (queries, with gradient).
        online_ids: (N_o,) instance ids, ``< 0`` for background samples.
        target_embeds: (N_t, D) target embeddings (keys; detached here).
        target_ids: (N_t,) instance ids, ``< 0`` for background samples.
        temperature: softmax temperature ``t``.
        extra_negatives: optional (N_x, D) embeddings that are negatives for every
            query (e.g. gathered from other ranks); detached.

    Returns:
        Scalar loss; ``0`` (connected to the graph) if no online sample is
        foreground.
    """
    with _autocast_off(online_embeds.device.type):
        return _box_contrastive_loss(online_embeds, online_ids, target_embeds,
                                     target_ids, temperature, extra_negatives)


def _box_contrastive_loss(online_embeds: Tensor, online_ids: Tensor,
                          target_embeds: Tensor, target_ids: Tensor,
                          temperature: float,
                          extra_negatives: Tensor | None) -> Tensor:
    """:func:`box_contrastive_loss` without the autocast guard."""
    _check_inputs(online_embeds, online_ids, 'online')
    _check_inputs(target_embeds, target_ids, 'target')
    online_ids = online_ids.long()
    target_ids = target_ids.long()

    fg = online_ids >= 0
    # half-precision (AMP) embeddings are compared in float32
    dtype = torch.promote_types(online_embeds.dtype, torch.float32)
    if not bool(fg.any()):
        return online_embeds.to(dtype).sum() * 0.

    q_all = F.normalize(online_embeds.to(dtype), dim=1)
    t_all = F.normalize(target_embeds.detach().to(dtype), dim=1)
    queries, query_ids = q_all[fg], online_ids[fg]  # (M, D), (M,)
    scaled = queries / temperature

    # --- negatives: every detached sample whose id differs from the query's ---
    log_neg = _negatives_logsumexp(
        scaled, query_ids, torch.cat([q_all.detach(), t_all]),
        torch.cat([online_ids, target_ids]), temperature)
    if extra_negatives is not None and extra_negatives.numel() > 0:
        extra = F.normalize(extra_negatives.detach().to(dtype), dim=1)
        log_neg = torch.logaddexp(log_neg,
                                  (scaled @ extra.t()).logsumexp(dim=1))

    # --- per-instance counts m_c (queries) and n_c (keys) ---
    target_fg = target_ids >= 0
    keys, key_ids = t_all[target_fg], target_ids[target_fg]  # (N_k, D), (N_k,)
    uniq, inverse = torch.unique(
        torch.cat([query_ids, key_ids]), return_inverse=True)
    q_slot, k_slot = inverse[:query_ids.numel()], inverse[query_ids.numel():]
    m_c = torch.bincount(q_slot, minlength=uniq.numel())
    n_c = torch.bincount(k_slot, minlength=uniq.numel())
    num_instances = int((m_c > 0).sum())
    has_key = n_c[q_slot] > 0  # (M,) does the query's instance have target keys?
    num_keys = torch.where(has_key, n_c[q_slot], m_c[q_slot])  # n_c, or m_c if K=Q
    pair_weight = 1.0 / (m_c[q_slot] * num_keys).to(dtype) / num_instances  # (M,)

    # --- positive pairs (query j, key i) of one instance, gathered sparsely:
    #     l_ij = logaddexp(s_ij, log_neg_j) - s_ij ---
    rows, cols = (q_slot[:, None] == k_slot[None, :]).nonzero(as_tuple=True)
    s = (scaled @ keys.t())[rows, cols]
    loss = ((torch.logaddexp(s, log_neg[rows]) - s) * pair_weight[rows]).sum()
    if not bool(has_key.all()):  # K = Q fallback, not detached (the reference)
        alone = (~has_key).nonzero().squeeze(1)
        rows, cols = (q_slot[alone, None] == q_slot[None, :]).nonzero(
            as_tuple=True)
        rows = alone[rows]
        s = (scaled[rows] * queries[cols]).sum(dim=1)
        loss = loss + ((torch.logaddexp(s, log_neg[rows]) - s) *
                       pair_weight[rows]).sum()
    return loss


def _gather_other_ranks(embeds: Tensor) -> Tensor:
    """Detached embeddings of every other rank, (sum_r N_r, D); empty if not
    distributed. Ranks may hold different numbers of samples."""
    from mmengine.dist import all_gather, get_rank, get_world_size
    if get_world_size() < 2:
        return embeds.new_zeros((0, embeds.size(1)))
    embeds = embeds.detach()
    sizes = all_gather(embeds.new_tensor([embeds.size(0)], dtype=torch.long))
    max_size = int(torch.stack(sizes).max())
    padded = embeds.new_zeros((max_size, embeds.size(1)))
    padded[:embeds.size(0)] = embeds
    gathered = all_gather(padded)
    rank = get_rank()
    return torch.cat([
        g[:int(n)] for r, (g, n) in enumerate(zip(gathered, sizes)) if r != rank
    ])


@MODELS.register_module()
class BoxContrastiveLoss(nn.Module):
    """Module form of :func:`box_contrastive_loss` (temperature 0.5, weight 1).

    Not a classification loss: it takes embeddings and instance ids of both views.
    ``use_sigmoid`` is defined (False) because some mmdet heads inspect it on
    whatever sits in ``loss_cls`` (the reference's loss lacked it, which crashed
    Deformable DETR: liming-ai/AlignDet issue #4).

    Args:
        temperature: softmax temperature.
        loss_weight: multiplier of the loss.
        gather_negatives: also use the other ranks' online and target samples
            as negatives (default False: negatives from the local batch, as the
            reference).
    """
    use_sigmoid = False

    def __init__(self,
                 temperature: float = 0.5,
                 loss_weight: float = 1.0,
                 gather_negatives: bool = False) -> None:
        super().__init__()
        owner = type(self).__name__
        self.temperature = check_float(owner, 'temperature', temperature, 0.0,
                                       lo_open=True)
        self.loss_weight = check_float(owner, 'loss_weight', loss_weight)
        self.gather_negatives = check_bool(owner, 'gather_negatives',
                                           gather_negatives)

    def forward(self, online_embeds: Tensor, online_ids: Tensor,
                target_embeds: Tensor, target_ids: Tensor) -> Tensor:
        """See :func:`box_contrastive_loss`; returns ``loss_weight * loss``."""
        extra = None
        if self.gather_negatives:
            extra = _gather_other_ranks(
                torch.cat([online_embeds.detach(), target_embeds.detach()]))
        loss = box_contrastive_loss(online_embeds, online_ids, target_embeds,
                                    target_ids, self.temperature, extra)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, loss_weight={self.loss_weight}, '
                f'gather_negatives={self.gather_negatives}')

