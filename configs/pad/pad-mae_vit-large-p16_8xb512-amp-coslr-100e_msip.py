# PAD-MAE on ViT-L/16: ./pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py with the
# ImageNet-1k MAE ViT-L/16 (24 blocks, 1024-d; the same 8 x 512 decoder) frozen and
# a patchwise-scale adapter (r = 64, concat fusion, dropout 0.1) in each of the 24
# blocks. Same MSIP recipe (100 epochs, delayed scale learning, AdamW, AMP).
# Trainable adapter parameters: 3,270,144 (24 x (2 x 1024 x 64 + 64 + 5 x 1024)).
# Sharded twin: ./pad-mae_vit-large-p16_8xb512-amp-coslr-100e_msip_fsdp.py.
_base_ = ['./pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py']

model = dict(
    algorithm=dict(
        backbone=dict(arch='l'),
        neck=dict(embed_dim=1024)))

# mmpretrain's MAE ViT-L/16 ImageNet-1k checkpoint (1600 epochs, decoder included);
# download it yourself, nothing here downloads
load_from = 'checkpoints/mae_vit-large-p16_8xb512-fp16-coslr-1600e_in1k_20220825-cc7e98c9.pth'  # noqa: E501
