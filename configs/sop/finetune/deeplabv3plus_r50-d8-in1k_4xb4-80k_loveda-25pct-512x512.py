# DeepLabV3+ R-50 on LoveDA, 25 % of the training labels, ImageNet init
# (mmseg's default open-mmlab://resnet50_v1c).
# Split: data_root/splits/train_25pct_seed0.txt from
#   python tools/make_label_fraction_splits.py <data_root>/img_dir/train \
#       --out-dir <data_root>/splits
# Other seeds: --cfg-options randomness.seed=1 \
#   train_dataloader.dataset.ann_file=splits/train_25pct_seed1.txt
_base_ = ['./_base_/deeplabv3plus-r50_loveda.py']
label_fraction = 25
train_dataloader = dict(dataset=dict(ann_file='splits/train_25pct_seed0.txt'))
