# DeepLabV3+ R-50 on Potsdam, 100 % of the training labels, ImageNet init
# (mmseg's default open-mmlab://resnet50_v1c).
_base_ = ['./_base_/deeplabv3plus-r50_potsdam.py']
label_fraction = 100
