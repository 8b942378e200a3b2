"""Tiny AlignDet detectors of every family and hand-made two-view views
(shared by the AlignDet model and tool tests)."""
import copy


import mmpad  # noqa: F401  (registers the AlignDet modules)
from mmpad.testing.aligndet_inputs import make_view, random_boxes  # noqa: F401
from mmdet.utils import register_all_modules

register_all_modules(init_default_scope=True)

TINY_BACKBONE = dict(
    type='ResNet', depth=18, base_channels=8, num_stages=4,
    out_indices=(0, 1, 2, 3), frozen_stages=4,
    norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
    style='pytorch')
PREPROCESSOR = dict(type='DetDataPreprocessor', mean=[0., 0., 0.],
                    std=[1., 1., 1.], pad_size_divisor=32)
DELTA_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                   target_stds=[1., 1., 1., 1.])


def retinanet():
    return dict(
        type='RetinaNet', data_preprocessor=PREPROCESSOR, backbone=TINY_BACKBONE,
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16,
                  start_level=1, add_extra_convs='on_input', num_outs=5),
        bbox_head=dict(
            type='RetinaEmbedHead', num_classes=1, in_channels=16,
            stacked_convs=1, feat_channels=16, embed_dim=8,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32, 64, 128]),
            bbox_coder=DELTA_CODER,
            init_cfg=dict(type='Normal', layer='Conv2d', std=0.01),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=128, pos_fraction=1.0,
                         neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))


def fcos():
    return dict(
        type='FCOS', data_preprocessor=PREPROCESSOR, backbone=TINY_BACKBONE,
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16,
                  start_level=1, add_extra_convs='on_output', num_outs=5,
                  relu_before_extra_convs=True),
        bbox_head=dict(
            type='FCOSEmbedHead', num_classes=1, in_channels=16,
            stacked_convs=1, feat_channels=16, embed_dim=8, num_samples=128,
            strides=[8, 16, 32, 64, 128],
            norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
            init_cfg=dict(type='Normal', layer='Conv2d', std=0.01),
            loss_bbox=dict(type='IoULoss', loss_weight=1.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                 loss_weight=1.0)),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))


def faster_rcnn(detector_type='FasterRCNN'):
    return dict(
        type=detector_type, data_preprocessor=PREPROCESSOR,
        backbone=dict(TINY_BACKBONE),
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16,
                  num_outs=5),
        rpn_head=dict(
            type='RPNHead', in_channels=16, feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', scales=[8],
                                  ratios=[0.5, 1.0, 2.0],
                                  strides=[4, 8, 16, 32, 64]),
            bbox_coder=DELTA_CODER,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=dict(
            type='EmbedRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=16, featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='Shared4Conv1FCEmbedBBoxHead', in_channels=16,
                conv_out_channels=16, fc_out_channels=32, roi_feat_size=7,
                num_classes=1, reg_class_agnostic=True, embed_dim=8,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                target_means=[0., 0., 0., 0.],
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7,
                              neg_iou_thr=0.3, min_pos_iou=0.3,
                              match_low_quality=True, ignore_iof_thr=-1),
                sampler=dict(type='RandomSampler', num=256, pos_fraction=1.0,
                             neg_pos_ub=-1, add_gt_as_proposals=False),
                allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=100,
                              nms=dict(type='nms', iou_threshold=0.7),
                              min_bbox_size=0),
            rcnn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                              neg_iou_thr=0.5, min_pos_iou=0.5,
                              match_low_quality=True, ignore_iof_thr=-1,
                              gt_max_assign_all=False),
                sampler=dict(type='RandomSampler', num=256, pos_fraction=1.0,
                             neg_pos_ub=0, add_gt_as_proposals=True),
                pos_weight=-1, debug=False)),
        test_cfg=dict(
            rpn=dict(nms_pre=100, max_per_img=50,
                     nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                      max_per_img=10)))


def detr(num_clusters=4):
    layer = dict(embed_dims=16, num_heads=2, dropout=0.1, batch_first=True)
    ffn = dict(embed_dims=16, feedforward_channels=32, num_fcs=2, ffn_drop=0.1,
               act_cfg=dict(type='ReLU', inplace=True))
    return dict(
        type='DETR', num_queries=10, data_preprocessor=PREPROCESSOR,
        backbone=dict(TINY_BACKBONE, out_indices=(3, )),
        neck=dict(type='ChannelMapper', in_channels=[64], kernel_size=1,
                  out_channels=16, act_cfg=None, norm_cfg=None, num_outs=1),
        encoder=dict(num_layers=1,
                     layer_cfg=dict(self_attn_cfg=layer, ffn_cfg=ffn)),
        decoder=dict(num_layers=2, return_intermediate=True,
                     layer_cfg=dict(self_attn_cfg=layer, cross_attn_cfg=layer,
                                    ffn_cfg=ffn)),
        positional_encoding=dict(num_feats=8, normalize=True),
        bbox_head=dict(
            type='DETREmbedHead', num_classes=num_clusters, embed_dims=16,
            embed_dim=8,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=5.0),
            loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
        train_cfg=dict(assigner=dict(
            type='HungarianAssigner',
            match_costs=[dict(type='ClassificationCost', weight=1.),
                         dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                         dict(type='IoUCost', iou_mode='giou', weight=2.0)])),
        test_cfg=dict(max_per_img=10))


FAMILIES = {
    'retinanet': retinanet,
    'fcos': fcos,
    'faster_rcnn': faster_rcnn,
    'mask_rcnn_box_branch': lambda: faster_rcnn('MaskRCNN'),
    'detr': detr,
}


def pretrainer_cfg(detector):
    return dict(type='AlignDetPretrainer', detector=copy.deepcopy(detector),
                data_preprocessor=dict(type='MultiBranchDataPreprocessor',
                                       data_preprocessor=PREPROCESSOR))


STOCK_TYPES = {
    'RetinaEmbedHead': 'RetinaHead',
    'FCOSEmbedHead': 'FCOSHead',
    'EmbedRoIHead': 'StandardRoIHead',
    'Shared4Conv1FCEmbedBBoxHead': 'Shared4Conv1FCBBoxHead',
    'DETREmbedHead': 'DETRHead',
}
PRETRAIN_ONLY_ARGS = ('embed_dim', 'num_samples')


def stock_detector(family, num_classes=3):
    """The fine-tuning twin of a tiny pre-training detector: stock mmdet heads,
    ``num_classes`` classes, class-specific R-CNN regression, and a mask head
    for Mask R-CNN."""
    cfg = copy.deepcopy(FAMILIES[family]())

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') in STOCK_TYPES:
                node['type'] = STOCK_TYPES[node['type']]
                for arg in PRETRAIN_ONLY_ARGS:
                    node.pop(arg, None)
                if 'num_classes' in node:
                    node['num_classes'] = num_classes
                if node['type'] == 'Shared4Conv1FCBBoxHead':
                    node['reg_class_agnostic'] = False
                if node['type'] == 'DETRHead':
                    node['loss_cls'] = dict(
                        type='CrossEntropyLoss', bg_cls_weight=0.1,
                        use_sigmoid=False, loss_weight=1.0, class_weight=1.0)
            for value in node.values():
                visit(value)
    visit(cfg)
    if family == 'mask_rcnn_box_branch':
        cfg['roi_head']['mask_roi_extractor'] = dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=16, featmap_strides=[4, 8, 16, 32])
        cfg['roi_head']['mask_head'] = dict(
            type='FCNMaskHead', num_convs=1, in_channels=16, conv_out_channels=16,
            num_classes=num_classes)
        cfg['train_cfg']['rcnn']['mask_size'] = 28
        cfg['test_cfg']['rcnn']['mask_thr_binary'] = 0.5
    return cfg
