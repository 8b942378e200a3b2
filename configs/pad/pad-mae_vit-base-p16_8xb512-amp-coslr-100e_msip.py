# PAD-MAE: the ImageNet-1k MAE ViT-B/16 frozen, a patchwise-scale
# adapter (r = 64, concat fusion, dropout 0.1) in every encoder block, MAE continued
# on MSIP training only the adapters and the decoder (decoder_embed frozen, as in the
# authors' code).
# The scale predictors are held at s = 0.5 for epochs 0-60 and learn from epoch 61
# (0-based: released when epoch > round(0.6 x 100), the authors' scale_epoch = 0.6).
# Trainable adapter parameters: 1,226,496.
_base_ = ['./_base_/mae_vit-base-p16_msip-100e.py']

model = dict(
    _delete_=True,
    type='PAD',
    algorithm={{_base_.model}},
    adapter=dict(bottleneck=64, dropout=0.1, scale_mode='concat'),
    # frozen=None -> backbone.* except '.adapter.', neck.decoder_embed
)

# DDP needs no find_unused_parameters: the held scale predictor stays in the graph
# with a zero gradient (see DelayedScaleHook)

custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),
    # ~5 MB files with only the adapters, next to the full checkpoints
    dict(type='AdapterCheckpointHook', interval=20, save_last=True),
]
