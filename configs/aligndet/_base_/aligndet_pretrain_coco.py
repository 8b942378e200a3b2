# AlignDet box-domain pre-training data and runtime pieces.
# Family configs inherit a stock mmdet detector config *and* this file; every key
# here has an `aligndet_` prefix (or is absent from stock configs: custom_hooks) so
# the two bases never collide, and the family config assembles them, e.g.
#   train_dataloader = dict(_base_.aligndet_train_dataloader, _delete_=True)

aligndet_data_root = 'data/coco/'
# COCO-style proposals, one category 'selective_search' (tools/generate_proposals.py;
# the authors' file: train2017_ratio3size0008@0.5.json)
aligndet_proposal_file = 'proposals/train2017_ratio3size0008@0.5.json'
aligndet_classes = ('selective_search', )

# One colour op per view, uniformly among nine, magnitude drawn per call (the
# authors' Soft-Teacher-style colour augmentation).
aligndet_colour_space = [
    [dict(type='Identity')],
    [dict(type='AutoContrast')],
    [dict(type='Equalize')],
    [dict(type='Solarize')],
    [dict(type='Color')],
    [dict(type='Contrast')],
    [dict(type='Brightness')],
    [dict(type='Sharpness')],
    [dict(type='Posterize')],
]
aligndet_scales = [(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                   (1333, 768), (1333, 800)]
# One view: resize, flip, colour; no crop, so every proposal exists in both views.
# Padding happens after flipping, in the data preprocessor (the authors' code flips
# after padding, so its boxes and pixels disagree by up to 31 px).
aligndet_view = [
    dict(type='RandomChoiceResize', scales=aligndet_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', aug_space=aligndet_colour_space, aug_num=1),
    dict(type='FilterAnnotationsWithIds', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackAlignDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'flip', 'flip_direction')),
]
# LoadImageFromFile that skips (and reports, once per file) truncated, empty, non-image
# files and images below filter_cfg's min_size; 16-bit PNGs are rescaled to 8 bits
aligndet_load = [
    dict(type='LoadImageFromFileSafe', min_size=32, backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
]
# Ids are assigned once, before the views split (the authors' code matches views by
# box order, which any per-view box filtering shifts).
aligndet_two_views = [
    dict(type='AssignInstanceIds'),
    dict(type='MultiBranch', branch_field=['online', 'target'],
         online=aligndet_view, target=aligndet_view),
]
aligndet_train_pipeline = aligndet_load + aligndet_two_views
# RetinaNet (memory) and DETR (fewer proposals than queries): first 50 in file order.
aligndet_train_pipeline_top50 = aligndet_load + [
    dict(type='TopKProposals', topk=50, random=False)] + aligndet_two_views

# CocoDataset that clips proposal boxes sticking out of their image and drops (and
# reports) boxes entirely outside or of negative size; strict=True raises instead
aligndet_dataset = dict(
    type='AlignDetProposalDataset',
    data_root=aligndet_data_root,
    ann_file=aligndet_proposal_file,
    data_prefix=dict(img='train2017/'),
    metainfo=dict(classes=aligndet_classes),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=aligndet_train_pipeline)
# 2 images per GPU (negatives come from them, as in the authors' code); scale GPUs,
# not this.
aligndet_train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=aligndet_dataset)

aligndet_data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32)

custom_hooks = [dict(type='AlignDetMomentumHook', base_momentum=0.996)]
# Family configs add the bad-data counts to the log with
#   default_hooks = dict(bad_samples=dict(type='BadSampleLoggerHook'))
# (default_hooks is a key of the stock runtime base, so it cannot be set here).
