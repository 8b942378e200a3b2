# SOP pre-training of SegFormer MiT-B2, early fusion, on the LoveDA
# training images. Stock mmseg SegFormer B2 (ImageNet weights) with type
# SOPEncoderDecoder: 6-channel first patch embedding (kernel copied into both halves
# x0.5), binary head, AdamW lr 6e-5 with SegFormer's parameter-wise settings.
# Fine-tune twin: configs/sop/finetune/segformer_mit-b2-sop_4xb4-80k_loveda-512x512.py
_base_ = [
    './_base_/segformer_mit-b2.py',
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
    decode_head={{_base_.sop_decode_head}})
optim_wrapper = dict(
    optimizer=dict(lr=6e-5),
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'head': dict(lr_mult=10.)
    }))
