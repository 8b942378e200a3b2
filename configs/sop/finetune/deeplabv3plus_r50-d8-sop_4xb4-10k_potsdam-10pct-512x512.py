# SOP-initialised twin of deeplabv3plus_r50-d8-in1k_4xb4-10k_potsdam-10pct-512x512.py:
# identical recipe, weights from SOP pre-training
# (configs/sop/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512.py)
# converted with tools/sop_to_seg.py; only the classifiers (conv_seg) start anew.
_base_ = ['./deeplabv3plus_r50-d8-in1k_4xb4-10k_potsdam-10pct-512x512.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512/sop_to_seg.pth'
