# SOP pre-training of DeepLabV3+ ResNetV1c-50, early fusion, on the
# Potsdam training tiles (labels ignored). The model is mmseg's stock DeepLabV3+ R-50
# with type SOPEncoderDecoder, a 6-channel stem (ImageNet kernel copied into both
# halves x0.5) and binary heads. Downstream:
#   python tools/sop_to_seg.py \
#       work_dirs/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512/best_sop_IoU_iter_*.pth \
#       work_dirs/sop_deeplabv3plus_r50-d8_1xb16-40k_potsdam-512x512/sop_to_seg.pth
#   python tools/train.py configs/sop/finetune/deeplabv3plus_r50-d8-sop_4xb4-80k_potsdam-512x512.py
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    './_base_/sop_pretrain_potsdam.py',
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
