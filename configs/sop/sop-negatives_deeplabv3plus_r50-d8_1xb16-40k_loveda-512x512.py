# Ablation (off in the default recipe): negatives. With p_neg = 0.1 the
# sub-image comes from another image and the target is all zeros. The other image is
# provided by mmseg's MultiImageMixDataset (the host's multi-image mechanism, as for
# RandomMosaic): the unlabeled dataset's pipeline loads and crops, the wrapper's
# pipeline builds the SOP sample.
_base_ = ['./sop_deeplabv3plus_r50-d8_1xb16-40k_loveda-512x512.py']
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='MultiImageMixDataset',
    dataset=dict(
        type='SOPUnlabeledDataset',
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='img_dir/train'),
        pipeline=[
            dict(type='LoadImageFromFileSafe', min_size=(512, 512)),
            dict(type='RandomCrop', crop_size=(512, 512)),
            dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=1.0),
            dict(type='RandomFlip', prob=0.5),
        ]),
    pipeline=[
        dict(type='SubimageOverlap', scale=(0.15, 0.5), ratio=(0.75, 4 / 3),
             photometric=True, p_neg=0.1),
        dict(type='PackSegInputs', meta_keys={{_base_.sop_meta_keys}}),
    ]))
