# AlignDet pre-training demo on the generated FLIR-style images (CPU, ~1 minute):
# the tiny RetinaNet of configs/foundation/retinanet_r18-tiny_flir-demo.py (whose
# fine-tuning twin is ./retinanet_r18-tiny_flir-demo_aligndet.py), frozen backbone,
# two views at small scales, a few dozen iterations.
#   python tools/generate_demo_data.py data/demo
#   python tools/generate_proposals.py --img-dir data/demo/flir/train \
#       --ann-file data/demo/flir/train/thermal_annotations.json \
#       --preset aligndet --out-json data/demo/flir/train/aligndet_proposals.json
#   python tools/train.py configs/aligndet/demo/aligndet_retinanet_r18-tiny_flir-demo.py
_base_ = [
    '../../foundation/retinanet_r18-tiny_flir-demo.py',
    '../_base_/aligndet_pretrain_coco.py'
]

data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/flir/'

detector = _base_.model
detector.backbone.frozen_stages = 4
detector.backbone.norm_cfg = dict(type='BN', requires_grad=False)
detector.backbone.norm_eval = True
detector.bbox_head.type = 'RetinaEmbedHead'
detector.bbox_head.num_classes = 1
detector.bbox_head.embed_dim = 32
detector.bbox_head.loss_bbox = dict(type='L1Loss', loss_weight=1.0)
detector.train_cfg.sampler = dict(
    type='RandomSampler', num=256, pos_fraction=1.0, neg_pos_ub=-1,
    add_gt_as_proposals=False)

model = dict(
    _delete_=True,
    type='AlignDetPretrainer',
    detector=detector,
    data_preprocessor=dict(type='MultiBranchDataPreprocessor',
                           data_preprocessor=detector.data_preprocessor))

demo_view = [
    dict(type='RandomChoiceResize', scales=[(320, 192), (320, 224), (320, 256)],
         keep_ratio=True)
] + _base_.aligndet_view[1:]
train_pipeline = _base_.aligndet_load + [
    dict(type='TopKProposals', topk=50),
    dict(type='AssignInstanceIds'),
    dict(type='MultiBranch', branch_field=['online', 'target'],
         online=demo_view, target=demo_view),
]
train_dataloader = dict(
    _base_.aligndet_train_dataloader, _delete_=True,
    num_workers=0, persistent_workers=False,
    dataset=dict(
        _base_.aligndet_dataset, data_root=data_root,
        ann_file='train/aligndet_proposals.json', data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=48)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=8)]
# AdamW at demo scale: in a few dozen iterations the recipe's SGD (0.01, 500-iteration
# warm-up in the full configs) barely moves the std-0.01 projectors, AdamW visibly
# lowers the contrastive loss. The full configs keep the paper's SGD recipe.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))
default_hooks = dict(
    bad_samples=dict(type='BadSampleLoggerHook'),
    logger=dict(interval=4),
    checkpoint=dict(by_epoch=False, interval=48, max_keep_ckpts=1))
