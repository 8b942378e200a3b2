# DeepLabV3+ R-50 on LoveDA, 100 % of the training labels, ImageNet init
# (mmseg's default open-mmlab://resnet50_v1c).
_base_ = ['./_base_/deeplabv3plus-r50_loveda.py']
label_fraction = 100
