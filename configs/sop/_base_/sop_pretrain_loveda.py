# SOP pre-training data (mmpad's own design; the SOP paper's abstract gives no recipe):
# the LoveDA training images with their labels ignored (in-domain; a disjoint image
# pool is the alternative) as parents; held-out parents from LoveDA val with boxes
# fixed by seed for the pretext IoU.
# Layout after mmseg's tools/dataset_converters/loveda.py: data/loveDA/img_dir/{train,val}.
# Uses no key of mmseg's model / runtime bases, so it composes with them.
data_root = 'data/loveDA'
crop_size = (512, 512)

sop_train_transform = dict(
    type='SubimageOverlap', scale=(0.15, 0.5), ratio=(0.75, 4 / 3),
    photometric=True, allow_partial=False, p_neg=0.0, to_rgb=True)
sop_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                 'scale_factor', 'flip', 'flip_direction', 'sop_box',
                 'sop_negative')
train_pipeline = [
    # LoadImageFromFile that skips (and reports, once per file) truncated, empty,
    # non-image files and images smaller than the crop; 16-bit PNGs rescaled to 8 bits
    dict(type='LoadImageFromFileSafe', min_size=crop_size),
    # parent I: P x P crop with flips and 90-degree rotations, before sampling S
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
    dict(type='RandomFlip', prob=0.5),
    sop_train_transform,
    dict(type='PackSegInputs', meta_keys=sop_meta_keys),
]
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=crop_size, auto_pad=True),
    dict(type='SubimageOverlap', scale=(0.15, 0.5), ratio=(0.75, 4 / 3),
         photometric=False, seed=0, to_rgb=True),
    dict(type='PackSegInputs', meta_keys=sop_meta_keys),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SOPUnlabeledDataset',
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='SOPUnlabeledDataset',
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SOPIoUMetric')
test_evaluator = val_evaluator
