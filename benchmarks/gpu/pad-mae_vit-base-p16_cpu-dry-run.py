# run_pad_gpu.sh --tiny: the GPU check config on a CPU (AmpOptimWrapper needs a
# GPU, so a plain OptimWrapper with the same optimizer and parameter groups).
_base_ = ['./pad-mae_vit-base-p16_gpu-check.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
