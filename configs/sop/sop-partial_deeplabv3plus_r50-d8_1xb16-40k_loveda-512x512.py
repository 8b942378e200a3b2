# Ablation (off in the default recipe): partial overlap. The box is sampled from
# a window larger than the parent (at least 25 % of it inside); the target is the
# intersection and S's outside part is black.
_base_ = ['./sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py']
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFileSafe', min_size=(512, 512)),
    dict(type='RandomCrop', crop_size=(512, 512)),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='SubimageOverlap', scale=(0.15, 0.5), ratio=(0.75, 4 / 3),
         photometric=True, allow_partial=True, min_overlap=0.25),
    dict(type='PackSegInputs', meta_keys={{_base_.sop_meta_keys}}),
]))
