# PAD-MAE on ViT-H/14: ./pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py with the
# ImageNet-1k MAE ViT-H/14 (32 blocks, 1280-d, patch 14: 16 x 16 patches of a 224 px
# crop; the same 8 x 512 decoder) frozen and a patchwise-scale adapter (r = 64,
# concat fusion, dropout 0.1) in each of the 32 blocks. Same MSIP recipe.
# Trainable adapter parameters: 5,449,728 (32 x (2 x 1280 x 64 + 64 + 5 x 1280)).
# Too large for most single GPUs with batch 512: use FSDP (docs/pad.md, "Sharded
# training (FSDP)"; the ViT-L twin ..._fsdp.py shows the settings) or a smaller
# batch with gradient accumulation.
_base_ = ['./pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py']

model = dict(
    algorithm=dict(
        backbone=dict(arch='h', patch_size=14),
        neck=dict(embed_dim=1280, patch_size=14, num_patches=256),
        head=dict(patch_size=14)))

# mmpretrain's MAE ViT-H/14 ImageNet-1k checkpoint (1600 epochs, decoder included;
# mmpretrain names the file p16, the model is patch 14); download it yourself
load_from = 'checkpoints/mae_vit-huge-p16_8xb512-fp16-coslr-1600e_in1k_20220916-ff848775.pth'  # noqa: E501
