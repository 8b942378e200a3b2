#!/usr/bin/env python
"""Give every proposal a cluster id for AlignDet's DETR pre-training.

DETR's Hungarian matching needs classes, so each selective-search proposal gets
the id of its cluster of appearance features:

1. RoIAlign 7x7 of the proposal on the last backbone stage (C5 of an image-domain
   backbone, by default the supervised ResNet-50 the pre-training starts from),
   average-pooled to one C-dim vector (2048 for R50);
2. PCA to ``--pca-dim`` (256), from a streaming covariance;
3. k-means with ``--clusters`` (256) centres, k-means++ initialisation with a fixed
   seed, Lloyd iterations until no assignment changes.

Steps 2 and 3 are :mod:`mmpad.aligndet.clustering`; this tool reads the proposals,
extracts the features and writes the result.

The output is the proposal file with categories ``cluster_1 .. cluster_K`` and each
annotation's ``category_id`` set to its cluster (``..._cluster-id-as-class.json``).
Features are kept on disk in float16 (``--work-dir``) between the passes, so COCO-
scale proposal sets fit: N proposals need N x C x 2 bytes there and N x pca_dim x 4
bytes of memory.

Example::

    python tools/aligndet_cluster_proposals.py \\
        data/coco/proposals/train2017_ratio3size0008@0.5.json \\
        --img-dir data/coco/train2017 --checkpoint resnet50-torchvision.pth \\
        --out data/coco/proposals/train2017_ratio3size0008@0.5_cluster-id-as-class.json
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

from mmpad.aligndet.clustering import StreamingCovariance, kmeans, pca_project

DEFAULT_BACKBONE = dict(
    type='ResNet', depth=50, num_stages=4, out_indices=(3, ), frozen_stages=4,
    norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
    style='pytorch',
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Cluster ids of proposals (RoIAlign C5 features -> PCA -> '
        'k-means) for AlignDet DETR pre-training',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('proposals', help='COCO-style proposals json')
    parser.add_argument('--img-dir', required=True,
                        help='folder the file_name entries are relative to')
    parser.add_argument('--out', required=True, help='output json')
    parser.add_argument('--config', help='config whose model.backbone (or '
                        'model.detector.backbone) to use; default: ResNet-50')
    parser.add_argument('--checkpoint', help='backbone weights (a torchvision / '
                        'mmdet checkpoint); overrides the backbone init_cfg')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides for --config')
    parser.add_argument('--scale', type=int, nargs=2, default=(1333, 800),
                        metavar=('LONG', 'SHORT'), help='resize (keep ratio)')
    parser.add_argument('--pca-dim', type=int, default=256)
    parser.add_argument('--clusters', type=int, default=256)
    parser.add_argument('--iters', type=int, default=100,
                        help='maximum k-means iterations')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    parser.add_argument('--work-dir', help='where the float16 feature file lives '
                        '(default: a temporary folder, removed at the end)')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ inputs --
def load_proposals(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: cannot read the proposals json ({err})') from err
    for key in ('images', 'annotations'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'{path}: malformed COCO json, no {key!r} list')
    if not data['annotations']:
        raise ValueError(f'{path}: the file holds no proposals')
    return data


def build_backbone(args) -> torch.nn.Module:
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import mmpad  # noqa: F401
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = dict(DEFAULT_BACKBONE)
    if args.config:
        config = Config.fromfile(args.config)
        if args.cfg_options:
            config.merge_from_dict(args.cfg_options)
        model = config.model
        cfg = model.get('detector', model)['backbone']
    if args.checkpoint:
        cfg = dict(cfg, init_cfg=None)
    backbone = MODELS.build(cfg)
    backbone.init_weights()
    if args.checkpoint:
        load_checkpoint(backbone, args.checkpoint, map_location='cpu',
                        strict=False, revise_keys=[(r'^backbone\.', '')])
    backbone.eval()  # mmdet's ResNet.train() returns None: no chaining
    return backbone.to(args.device)


def load_image(path: str, scale: Tuple[int, int]) -> Tuple[torch.Tensor, float]:
    """(1, 3, H, W) normalised RGB tensor and the resize factor."""
    import mmcv
    try:
        img = mmcv.imread(path, channel_order='rgb')
    except Exception as err:  # noqa: BLE001 - decoder errors vary
        raise ValueError(f'{path}: cannot decode image ({err})') from err
    if img is None:
        raise ValueError(f'{path}: missing or unreadable image')
    img, factor = mmcv.imrescale(img, scale, return_scale=True)
    img = (img.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(img).permute(2, 0, 1)[None].float(), factor


@torch.no_grad()
def roi_features(backbone: torch.nn.Module, img: torch.Tensor,
                 boxes_xyxy: torch.Tensor) -> torch.Tensor:
    """(N, C) RoIAlign 7x7 features of the boxes on the last stage, averaged."""
    from mmcv.ops import roi_align
    c5 = backbone(img)[-1]
    stride = 2 ** round(float(np.log2(img.shape[-1] / c5.shape[-1])))
    rois = torch.cat([boxes_xyxy.new_zeros(len(boxes_xyxy), 1), boxes_xyxy], 1)
    feats = roi_align(c5, rois.to(c5), (7, 7), 1.0 / stride, 0, 'avg', True)
    return feats.mean(dim=(2, 3)).float().cpu()


# -------------------------------------------------------------------- main --
def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm
    try:
        data = load_proposals(args.proposals)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    images = {img['id']: img for img in data['images']}
    by_image: Dict[int, List[int]] = {}
    for i, ann in enumerate(data['annotations']):
        if ann.get('image_id') not in images:
            print(f'error: {args.proposals}: annotation {ann.get("id")} refers '
                  f'to unknown image_id {ann.get("image_id")}', file=sys.stderr)
            return 2
        by_image.setdefault(ann['image_id'], []).append(i)
    num = len(data['annotations'])
    torch.manual_seed(args.seed)
    backbone = build_backbone(args)

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='aligndet_clusters_')
    os.makedirs(work_dir, exist_ok=True)
    feature_file = osp.join(work_dir, 'roi_features.f16')
    features = None
    cov = None
    for image_id, ann_ids in tqdm(sorted(by_image.items()), desc='features',
                                  unit='img'):
        info = images[image_id]
        try:
            img, factor = load_image(osp.join(args.img_dir, info['file_name']),
                                     tuple(args.scale))
        except ValueError as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
        xywh = torch.tensor([data['annotations'][i]['bbox'] for i in ann_ids],
                            dtype=torch.float32).reshape(-1, 4)
        boxes = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1) * factor
        feats = roi_features(backbone, img.to(args.device), boxes.to(args.device))
        if features is None:
            features = np.lib.format.open_memmap(
                feature_file, mode='w+', dtype=np.float16,
                shape=(num, feats.size(1)))
            cov = StreamingCovariance(feats.size(1))
        features[ann_ids] = feats.numpy().astype(np.float16)
        cov.update(feats)

    dim = min(args.pca_dim, features.shape[1])
    mean, components, explained = cov.pca(dim)
    reduced = pca_project(features, mean, components)
    del features
    if not args.work_dir:
        os.remove(feature_file)
        os.rmdir(work_dir)

    try:
        _, assign, iters = kmeans(reduced, args.clusters, args.iters, args.seed)
    except ValueError as err:
        print(f'error: {args.proposals}: {err}', file=sys.stderr)
        return 2
    for ann, cluster in zip(data['annotations'], assign.tolist()):
        ann['category_id'] = cluster + 1
    data['categories'] = [dict(id=c + 1, name=f'cluster_{c + 1}',
                               supercategory='cluster')
                          for c in range(args.clusters)]
    data['info'] = dict(
        data.get('info') or {},
        clusters=dict(source=osp.abspath(args.proposals), clusters=args.clusters,
                      pca_dim=dim, explained_variance=explained, seed=args.seed,
                      kmeans_iters=iters, scale=list(args.scale),
                      backbone=args.config or 'ResNet-50 C5',
                      checkpoint=args.checkpoint))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(data, f)

    sizes = torch.bincount(assign, minlength=args.clusters)
    print('---- summary ----')
    print(f'proposals: {num} in {len(by_image)} images; features '
          f'{cov.total.numel()}-d -> PCA {dim} ({explained:.1%} of the variance)')
    print(f'k-means: {args.clusters} clusters, {iters} iterations; cluster size '
          f'min {int(sizes.min())}, mean {float(sizes.float().mean()):.1f}, '
          f'max {int(sizes.max())}, empty {int((sizes == 0).sum())}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
