# Tiny CPU twin of ../upernet_vit-b_2xb4-amp-9.8k_mfnet-512x512.py (baseline, no adapter) on the
# generated MFNet-style data (9 classes): the SODA demo model and schedule with the
# MFNet data (val_test.txt for validation, test.txt for tools/test.py).
_base_ = ['./upernet_mae-tiny_soda-demo.py']

data_root = '{{$MMPAD_DATA_ROOT:data/demo}}/mfnet/'
dataset_type = 'MFNetDataset'
num_classes = 9
data_prefix = dict(img_path='thermal_imgs', seg_map_path='labels')
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=data_prefix,
        ann_file='train.txt'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=data_prefix,
        ann_file='val_test.txt'))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=data_prefix,
        ann_file='test.txt'))
