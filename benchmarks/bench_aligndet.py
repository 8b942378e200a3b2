#!/usr/bin/env python
"""AlignDet benchmarks, measured side by side in one run (CPU by default).

1. Box contrastive loss, forward + backward: mmpad's vectorised loss vs the
   reference's per-instance loop (one cross-entropy per instance id), at 2 images x
   {50, 256} instances x 2,048 sampled anchors per image and view, D = 256.
2. One training iteration (loss, backward, SGD step) of AlignDet pre-training
   (online + momentum target, two views, momentum update) vs one supervised
   iteration of the same RetinaNet on the same images; the supervised detector is
   timed with its stock trainable backbone and with the AlignDet-frozen backbone.

    python benchmarks/bench_aligndet.py [--repeats 3] [--device cuda]
"""
from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
import time

import torch
import torch.nn.functional as F

from mmpad.testing.aligndet_inputs import make_view, random_boxes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the shipped AlignDet demo: the pre-training config and its stock fine-tuning twin
# (mmdet's RetinaNet with a thin ResNet-18), widened below
DEMO = osp.join(REPO, 'configs', 'aligndet', 'demo')
PRETRAIN_CFG = osp.join(DEMO, 'aligndet_retinanet_r18-tiny_flir-demo.py')
SUPERVISED_CFG = osp.join(DEMO, 'retinanet_r18-tiny_flir-demo_aligndet.py')
# the backbone AlignDet pre-trains: frozen, BN statistics fixed
FROZEN_BACKBONE = dict(frozen_stages=4, norm_eval=True,
                       norm_cfg=dict(type='BN', requires_grad=False))


def reference_loop_loss(online, online_ids, target, target_ids, tau=0.5,
                        instances=None):
    """The reference algorithm, literally: a Python loop over instance ids, each
    building (n*m, 1 + k) logits by expanding the negatives for every key."""
    total, count = 0., 0
    ids = [c for c in torch.unique(online_ids).tolist() if c >= 0]
    for c in ids[:instances]:
        query = online[online_ids == c]
        key = target[target_ids == c] if (target_ids == c).any() else query
        neg = torch.cat([online[online_ids != c], target[target_ids != c]])
        q, k, n = F.normalize(query), F.normalize(key), F.normalize(neg.detach())
        feats = torch.cat([k[:, None], n[None].expand(k.size(0), -1, -1)], 1)
        logits = torch.bmm(q[None].expand(k.size(0), -1, -1),
                           feats.transpose(1, 2)).reshape(-1, 1 + n.size(0))
        labels = torch.zeros(logits.size(0), dtype=torch.long,
                             device=logits.device)
        total = total + F.cross_entropy(logits / tau, labels)
        count += 1
    return total / count


def lean_loop_loss(online, online_ids, target, target_ids, tau=0.5):
    """The same definition, still one Python iteration per instance, but with
    matrix products instead of the (n, k, D) expansion."""
    q_all, t_all = F.normalize(online), F.normalize(target)
    total, count = 0., 0
    for c in torch.unique(online_ids).tolist():
        if c < 0:
            continue
        q = q_all[online_ids == c]
        k = t_all[target_ids == c] if (target_ids == c).any() else q
        n = torch.cat([q_all[online_ids != c], t_all[target_ids != c]]).detach()
        pos = q @ k.t() / tau
        neg = (q @ n.t() / tau).logsumexp(dim=1)
        total = total + (torch.logaddexp(pos, neg[:, None]) - pos).mean()
        count += 1
    return total / count


def _timeit(fn, repeats, device):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_loss(repeats, device, reference_instances):
    from mmpad.aligndet.box_contrastive_loss import box_contrastive_loss
    print('== box contrastive loss, forward + backward '
          '(2 images x 2048 samples per view, D=256, 50% foreground)')
    print(f'  reference loop: measured on {reference_instances} instances, '
          'scaled to all (its cost grows linearly with the instances)')
    print(f'{"instances":>9} {"vectorised":>11} {"lean loop":>10} {"ref. loop":>10}'
          f' {"vs lean":>8} {"vs ref.":>8} {"|diff|":>8}')
    g = torch.Generator().manual_seed(0)
    for num_instances in (50, 256):
        n = 2 * 2048
        ids = torch.randint(0, num_instances, (n, ), generator=g)
        ids[torch.rand(n, generator=g) < 0.5] = -1
        tids = ids[torch.randperm(n, generator=g)]
        online = torch.randn(n, 256, generator=g).to(device).requires_grad_()
        target = torch.randn(n, 256, generator=g).to(device)
        ids, tids = ids.to(device), tids.to(device)

        def run(loss_fn, **kwargs):
            def step():
                online.grad = None
                loss_fn(online, ids, target, tids, **kwargs).backward()
            return step

        t_fast = _timeit(run(box_contrastive_loss), repeats, device)
        t_lean = _timeit(run(lean_loop_loss), max(1, repeats // 2), device)
        t_ref = _timeit(run(reference_loop_loss, instances=reference_instances),
                        1, device) * num_instances / reference_instances
        with torch.no_grad():
            diff = abs(float(box_contrastive_loss(online, ids, target, tids)) -
                       float(reference_loop_loss(online, ids, target, tids)))
        print(f'{num_instances:>9} {t_fast * 1e3:>9.1f}ms {t_lean * 1e3:>8.1f}ms '
              f'{t_ref * 1e3:>8.0f}ms {t_lean / t_fast:>7.1f}x '
              f'{t_ref / t_fast:>7.1f}x {diff:>8.1e}')


def _widen(detector: dict) -> dict:
    """A ResNet-18 RetinaNet with 32 base channels and a 64-channel FPN / head
    (2 stacked convs), from one of the demo detectors (32x32 px and smaller)."""
    detector = copy.deepcopy(detector)
    detector['backbone'].update(base_channels=32)
    detector['neck'].update(in_channels=[32, 64, 128, 256], out_channels=64)
    detector['bbox_head'].update(in_channels=64, feat_channels=64,
                                 stacked_convs=2)
    return detector


def _retinanet(frozen_backbone: bool) -> dict:
    """The supervised RetinaNet (3 classes): the backbone frozen as AlignDet
    freezes it, or trainable from stage 2 on with fixed BN statistics."""
    from mmengine.config import Config
    cfg = _widen(Config.fromfile(SUPERVISED_CFG).model.to_dict())
    cfg['backbone'].update(FROZEN_BACKBONE)
    if not frozen_backbone:
        cfg['backbone'].update(frozen_stages=1, norm_eval=True)
    return cfg


def _pretrainer() -> dict:
    """The AlignDet pre-trainer of the widened RetinaNet: 256-d embeddings,
    2,048 sampled anchors per image and view."""
    from mmengine.config import Config
    cfg = Config.fromfile(PRETRAIN_CFG).model.to_dict()
    cfg['detector'] = _widen(cfg['detector'])
    cfg['detector']['backbone'].update(FROZEN_BACKBONE)
    cfg['detector']['bbox_head'].update(embed_dim=256, num_classes=1)
    cfg['detector']['train_cfg']['sampler'] = dict(
        type='RandomSampler', num=2048, pos_fraction=1.0, neg_pos_ub=-1,
        add_gt_as_proposals=False)
    return cfg


def bench_iteration(repeats, device):
    from mmdet.registry import MODELS
    print('\n== one training iteration, RetinaNet R18 (32 base channels), '
          '2 images of 256x320, 20 proposals each')
    g = torch.Generator().manual_seed(0)
    shapes = [(256, 320)] * 2
    boxes = [random_boxes(20, 256, 320, g, min_size=32) for _ in shapes]
    labels = [torch.zeros(20, dtype=torch.long) for _ in shapes]
    online = make_view(boxes, shapes, labels)
    target = make_view([b * 0.9 for b in boxes], [(230, 288)] * 2, labels)
    sup_labels = [torch.randint(0, 3, (20, ), generator=g) for _ in shapes]
    supervised_batch = make_view(boxes, shapes, sup_labels)

    def to(view):
        imgs, samples = view
        return imgs.to(device), [s.to(device) for s in samples]

    pretrainer = MODELS.build(_pretrainer()).to(device)
    pretrainer.init_weights()
    pretrainer.train()
    opt = torch.optim.SGD([p for p in pretrainer.parameters() if p.requires_grad],
                          lr=1e-3, momentum=0.9)
    inputs = {'online': to(online)[0], 'target': to(target)[0]}
    samples = {'online': to(online)[1], 'target': to(target)[1]}

    def align_step():
        losses = pretrainer.loss(inputs, copy.deepcopy(samples))
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
        pretrainer.momentum_update(0.996)

    results = {'AlignDet pre-training (2 views)': _timeit(align_step, repeats,
                                                           device)}
    for frozen in (False, True):
        det = MODELS.build(_retinanet(frozen)).to(device)
        det.init_weights()
        det.train()
        opt_d = torch.optim.SGD([p for p in det.parameters() if p.requires_grad],
                                lr=1e-3, momentum=0.9)
        imgs, sup_samples = to(supervised_batch)

        def sup_step():
            losses = det.loss(imgs, copy.deepcopy(sup_samples))
            opt_d.zero_grad()
            total = sum(sum(v) if isinstance(v, list) else v
                        for v in losses.values())
            total.backward()
            opt_d.step()

        name = 'supervised, ' + ('frozen backbone' if frozen
                                 else 'stock trainable backbone')
        results[name] = _timeit(sup_step, repeats, device)
    base = results['AlignDet pre-training (2 views)']
    for name, t in results.items():
        print(f'{name:<42} {t * 1e3:>8.1f} ms   AlignDet / this = '
              f'{base / t:.2f}x')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--reference-instances', type=int, default=4,
                        help='instances the literal reference loop is timed on')
    parser.add_argument('--threads', type=int,
                        default=int(os.environ.get('OMP_NUM_THREADS', 1)))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import mmpad  # noqa: F401
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    device = torch.device(args.device)
    print(f'device {device}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} thread(s)\n')
    bench_loss(args.repeats, device, args.reference_instances)
    bench_iteration(args.repeats, device)


if __name__ == '__main__':
    main()
