# AlignDet box-domain pre-training of FCOS R50-FPN:
# frozen torchvision R50 (pytorch style, like every AlignDet backbone), FPN and the
# GN head learn; per batch and view 2,048 sampled points; 12 epochs, SGD 0.01.
_base_ = [
    'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
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
detector.backbone = dict(
    type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
    frozen_stages=4, norm_cfg=dict(type='BN', requires_grad=False),
    norm_eval=True, style='pytorch',
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
detector.bbox_head.type = 'FCOSEmbedHead'
detector.bbox_head.num_classes = 1  # only sizes the stock classifier
detector.bbox_head.embed_dim = 256
detector.bbox_head.num_samples = 2048

model = dict(
    _delete_=True,
    type='AlignDetPretrainer',
    detector=detector,
    loss_contrast=dict(type='BoxContrastiveLoss', temperature=0.5,
                       loss_weight=1.0),
    data_preprocessor=dict(type='MultiBranchDataPreprocessor',
                           data_preprocessor=detector.data_preprocessor))

train_dataloader = dict(_base_.aligndet_train_dataloader, _delete_=True)
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
         gamma=0.1)
]
