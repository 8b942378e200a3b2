# Baseline paradigms (b) / (c) of the PAD paper's Fig. 1 (cross-domain fine-tuning of
# the ImageNet model / full continual pre-training) on MFNet thermal images (9
# classes incl. "unlabelled", counted in mIoU; the authors' configs first shipped
# num_classes=21, corrected to 9 in their only post-release change):
# UperNet + plain MAE ViT-B/16 (no adapter) fine-tuned from a checkpoint converted with
#   python tools/convert_pad_checkpoint.py PRETRAIN.pth checkpoints/vit-b_seg.pth --target seg
# Schedule (the authors' config): warm-up 1,000 iterations then poly to 0 at 9,800;
# evaluation every 700 iterations on val_test.txt, used as given for "val" (whether it
# is val only or val + test is not documented); `tools/test.py` uses test.txt.
# Layout: data/MFNet/thermal_imgs/*.png, data/MFNet/labels/*.png,
#   data/MFNet/{train,val_test,test}.txt
_base_ = ['./_base_/upernet_mae-b_512.py']

dataset_type = 'MFNetDataset'
data_root = 'data/MFNet/'
num_classes = 9
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

data_prefix = dict(img_path='thermal_imgs', seg_map_path='labels')
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

max_iters = 9800
warmup_iters = 1000
val_interval = 700
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=warmup_iters,
        end=max_iters,
        by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=val_interval))
