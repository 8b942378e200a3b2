# SOP pre-training of UPerNet ResNetV1c-50, early fusion, on the
# LoveDA training images. Stock mmseg UPerNet R-50 with type SOPEncoderDecoder,
# a 6-channel stem and binary heads. Fine-tune twin:
# configs/sop/finetune/upernet_r50-sop_4xb4-80k_loveda-512x512.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    './_base_/sop_pretrain_loveda.py',
    'mmseg::_base_/default_runtime.py',
    './_base_/sop_schedule_40k.py',
    './_base_/sop_model.py',
    '../_base_/vis_backends.py',
]

# TensorBoard next to the local files (../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

model = dict(
    type='SOPEncoderDecoder',
    fusion='early',
    data_preprocessor={{_base_.sop_data_preprocessor}},
    decode_head={{_base_.sop_decode_head}},
    auxiliary_head={{_base_.sop_auxiliary_head}})
