# AlignDet box-domain pre-training of Faster R-CNN R50-FPN.
# The same checkpoint initialises Faster and Mask R-CNN (the authors' answer in
# liming-ai/AlignDet issues #10 and #30).
# Frozen torchvision R50; FPN, RPN and the 4conv1fc RoI head learn; 12 epochs,
# 8 GPUs x 2 images, SGD 0.02.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    './_base_/aligndet_pretrain_coco.py',
    '../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'
# skipped images / fixed proposal boxes counted in the log (docs/data.md)
default_hooks = dict(bad_samples=dict(type='BadSampleLoggerHook'))

detector = _base_.model
detector.data_preprocessor = _base_.aligndet_data_preprocessor
detector.backbone.frozen_stages = 4
detector.backbone.norm_cfg = dict(type='BN', requires_grad=False)
# RoI stage: labels are instance ids, the classifier is the embedding projector,
# the regressor is class-agnostic (the authors' code indexes a class-specific
# regressor by instance id, which has no slot for ids above 256)
detector.roi_head.type = 'EmbedRoIHead'
detector.roi_head.bbox_head.type = 'Shared4Conv1FCEmbedBBoxHead'
detector.roi_head.bbox_head.num_classes = 1  # only sizes the stock classifier
detector.roi_head.bbox_head.reg_class_agnostic = True
detector.roi_head.bbox_head.embed_dim = 256
# RPN: all positives, negatives up to 4,096
detector.train_cfg.rpn.sampler = dict(
    type='RandomSampler', num=4096, pos_fraction=1.0, neg_pos_ub=-1,
    add_gt_as_proposals=False)
# RoIs: RPN proposals + the proposals themselves, IoU >= 0.5, positives only
detector.train_cfg.rcnn.assigner = dict(
    type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
    match_low_quality=True, ignore_iof_thr=-1, gt_max_assign_all=False)
detector.train_cfg.rcnn.sampler = dict(
    type='RandomSampler', num=4096, pos_fraction=1.0, neg_pos_ub=0,
    add_gt_as_proposals=True)

model = dict(
    _delete_=True,
    type='AlignDetPretrainer',
    detector=detector,
    loss_contrast=dict(type='BoxContrastiveLoss', temperature=0.5,
                       loss_weight=1.0),
    data_preprocessor=dict(type='MultiBranchDataPreprocessor',
                           data_preprocessor=detector.data_preprocessor))

# all proposals (no top-k) for the R-CNN family
train_dataloader = dict(_base_.aligndet_train_dataloader, _delete_=True)
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
# schedule: the stock 1x (12 epochs, warm-up 500 iterations x0.001, x0.1 at 8, 11)
