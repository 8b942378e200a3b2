# The tiny PAD-MAE demo (./pad-mae_vit-tiny-p16_demo.py) sharded with FSDP instead
# of DDP: 2 processes on CPU (gloo) with
#   tools/dist_train.sh configs/pad/demo/pad-mae_vit-tiny-p16_demo_fsdp.py 2
# (on GPUs drop device_id). Every FSDP unit is uniformly frozen or uniformly
# trainable (mmpad's pad_fsdp_wrap_policy: each adapter its own unit, each frozen
# attention / MLP / norm of a block and each decoder part in units of their own);
# nothing trainable is ignored by FSDP, so adapter gradients are reduced across the
# ranks like every other gradient. See docs/pad.md, "Sharded training (FSDP)".
_base_ = ['./pad-mae_vit-tiny-p16_demo.py']

model_wrapper_cfg = dict(
    type='PADFullyShardedDataParallel',
    auto_wrap_policy='pad_fsdp_wrap_policy',
    use_orig_params=True,  # the optimizer and the hooks use the model's parameters
    device_id='cpu')  # CPU / gloo; remove on GPUs (FSDP takes the current one)
find_unused_parameters = False  # a DDP setting; FSDP has none

# The optimizer is built after sharding, from the shards: with use_orig_params
# each parameter is a flat (1-d) view, so a rule on the number of dimensions
# (flat_decay_mult=0 of the base recipe) would exempt every weight from decay.
# The same exemptions by module type and name: the 1-d trainable parameters of
# this model are the norms' and the biases (the mask token, 3-d, keeps its decay
# as in the base recipe).
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0, bias_decay_mult=0.0))

# Checkpoints are unsharded, as under DDP: MMPadRunner gathers the full weights and
# optimizer state to rank 0 (they load into the plain model and resume under FSDP),
# and AdapterCheckpointHook writes the same adapter-only file as under DDP.
custom_hooks = [
    dict(type='DelayedScaleHook', ratio=0.6),
    dict(type='AdapterCheckpointHook', interval=3, save_last=True),
    # compares the full (gathered) gradients of all ranks before every step
    dict(type='GradientSyncCheckHook'),
]
