# Fine-tuning recipe shared by every initialisation: mmseg's stock
# DeepLabV3+ R-50 LoveDA config (SGD lr 0.01, poly, 80k iterations, 512 crops,
# batch 4 x 4 GPUs), evaluated every 1k iterations for convergence curves
# (tools/plot_convergence.py). Leaves set the label fraction and the initialisation.
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_loveda-512x512.py',
          './finetune_common.py',
          '../../../_base_/vis_backends.py']

# TensorBoard next to the local files (../../../_base_/vis_backends.py)
vis_backends = _base_.mmpad_vis_backends
visualizer = dict(vis_backends=vis_backends)

train_cfg = dict(val_interval=1000)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=8000, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater'))
