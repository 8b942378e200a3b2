# SOP-initialised twin of upernet_vit-b16-in1k_4xb4-80k_loveda-512x512.py (weights from
# configs/sop/sop_upernet_vit-b16_1xb16-40k_loveda-512x512.py converted by tools/sop_to_seg.py,
# which drops the segment embedding; the backbone is the stock VisionTransformer).
_base_ = ['./upernet_vit-b16-in1k_4xb4-80k_loveda-512x512.py']
model = dict(pretrained=None)
load_from = 'work_dirs/sop_upernet_vit-b16_1xb16-40k_loveda-512x512/sop_to_seg.pth'
