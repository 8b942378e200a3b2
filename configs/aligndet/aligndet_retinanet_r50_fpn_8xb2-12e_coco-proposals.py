# AlignDet box-domain pre-training of RetinaNet R50-FPN:
# frozen torchvision R50, FPN + heads learn; 12 epochs, 8 GPUs x 2 images, SGD 0.01.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
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
detector.bbox_head.type = 'RetinaEmbedHead'
detector.bbox_head.num_classes = 1  # 'selective_search'; only sizes the stock classifier
detector.bbox_head.embed_dim = 256
detector.bbox_head.loss_bbox = dict(type='L1Loss', loss_weight=1.0)
detector.train_cfg.sampler = dict(
    type='RandomSampler', num=2048, pos_fraction=1.0, neg_pos_ub=-1,
    add_gt_as_proposals=False)

model = dict(
    _delete_=True,
    type='AlignDetPretrainer',
    detector=detector,
    loss_contrast=dict(type='BoxContrastiveLoss', temperature=0.5,
                       loss_weight=1.0),
    data_preprocessor=dict(type='MultiBranchDataPreprocessor',
                           data_preprocessor=detector.data_preprocessor))

train_dataloader = dict(
    _base_.aligndet_train_dataloader, _delete_=True,
    dataset=dict(_base_.aligndet_dataset,
                 pipeline=_base_.aligndet_train_pipeline_top50))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
# schedule: the stock 1x (12 epochs, warm-up 500 iterations x0.001, x0.1 at 8, 11)
