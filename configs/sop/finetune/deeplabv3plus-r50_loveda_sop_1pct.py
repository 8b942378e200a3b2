# SOP-initialised twin of deeplabv3plus-r50_loveda_imnet_1pct.py: identical recipe,
# weights from SOP pre-training (configs/sop/sop_pretrain_deeplabv3plus-r50_loveda.py)
# converted with tools/sop_to_seg.py; only the classifiers (conv_seg) start anew.
_base_ = ['./deeplabv3plus-r50_loveda_imnet_1pct.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_pretrain_deeplabv3plus-r50_loveda/sop_to_seg.pth'
