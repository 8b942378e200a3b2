# DeepLabV3+ R-50 on Potsdam, 1 % of the training labels, ImageNet init
# (mmseg's default open-mmlab://resnet50_v1c).
# Split: data_root/splits/train_1pct_seed0.txt from
#   python tools/make_label_fraction_splits.py <data_root>/img_dir/train \
#       --out-dir <data_root>/splits
# Other seeds: --cfg-options randomness.seed=1 \
#   train_dataloader.dataset.ann_file=splits/train_1pct_seed1.txt
# Below 25 % labels the schedule is cut in proportion with a floor of 10k iterations
# (mmpad's choice): 10000 iterations instead of 80k.
_base_ = ['./_base_/deeplabv3plus-r50_potsdam.py']
label_fraction = 1
train_dataloader = dict(dataset=dict(ann_file='splits/train_1pct_seed0.txt'))
train_cfg = dict(max_iters=10000)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=10000,
         by_epoch=False)
]
