# Baseline paradigms (b) / (c) of the PAD paper's Fig. 1 on SODA (21 classes incl. background,
# background counted in mIoU): UperNet + plain MAE ViT-B/16 (no adapter) fine-tuned
# from an ImageNet MAE or a full MSIP continual pre-training checkpoint converted with
#   python tools/convert_pad_checkpoint.py PRETRAIN.pth checkpoints/vit-b_seg.pth --target seg
# Schedule (the authors' config): warm-up 1,500 iterations then poly to 0 at 14,400;
# evaluation every 800 iterations. Layout (VOC-style):
#   data/SODA/JPEGImages/*.jpg, data/SODA/SegmentationClass/*.png,
#   data/SODA/ImageSets/Segmentation/{train,test}_infrared.txt
_base_ = ['./_base_/upernet_mae-b_512.py']

dataset_type = 'SODADataset'
data_root = 'data/SODA/'
num_classes = 21
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train_infrared.txt'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/test_infrared.txt'))
test_dataloader = val_dataloader

max_iters = 14400
warmup_iters = 1500
val_interval = 800
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
