# ./pad-mae_vit-large-p16_8xb512-amp-coslr-100e_msip.py sharded with FSDP instead of DDP
# (8 GPUs: tools/dist_train.sh THIS_CONFIG 8). Every FSDP unit is uniformly frozen or
# uniformly trainable (pad_fsdp_wrap_policy); nothing trainable is ignored by FSDP.
# See docs/pad.md, "Sharded training (FSDP)" (when to choose FSDP over DDP).
_base_ = ['./pad-mae_vit-large-p16_8xb512-amp-coslr-100e_msip.py']

model_wrapper_cfg = dict(
    _delete_=True,
    type='PADFullyShardedDataParallel',
    auto_wrap_policy='pad_fsdp_wrap_policy',
    use_orig_params=True)  # add device_id='cpu' for CPU / gloo runs
find_unused_parameters = False  # a DDP setting; FSDP has none

optim_wrapper = dict(
    # AMP's loss scaler for sharded gradients (ShardedGradScaler)
    use_fsdp=True,
    # under FSDP each parameter is a flat 1-d view when the optimizer is built, so
    # the base recipe's flat_decay_mult=0 would exempt every weight: the same
    # exemptions (norms, biases) by module type and name
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0, bias_decay_mult=0.0))
