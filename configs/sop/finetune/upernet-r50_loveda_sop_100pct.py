# SOP-initialised twin of upernet-r50_loveda_imnet_100pct.py (weights from
# configs/sop/sop_pretrain_upernet-r50_loveda.py converted by tools/sop_to_seg.py).
_base_ = ['./upernet-r50_loveda_imnet_100pct.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_pretrain_upernet-r50_loveda/sop_to_seg.pth'
