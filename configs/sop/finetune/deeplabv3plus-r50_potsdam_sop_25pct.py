# SOP-initialised twin of deeplabv3plus-r50_potsdam_imnet_25pct.py: identical recipe,
# weights from SOP pre-training (configs/sop/sop_pretrain_deeplabv3plus-r50_potsdam.py)
# converted with tools/sop_to_seg.py; only the classifiers (conv_seg) start anew.
_base_ = ['./deeplabv3plus-r50_potsdam_imnet_25pct.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_pretrain_deeplabv3plus-r50_potsdam/sop_to_seg.pth'
