"""fp16 gradient compression for DDP all-reduce (ViTDet's recipe, PAD's FLIR detector).

Registers PyTorch's ``fp16_compress_hook`` as the DDP communication hook, so gradients
travel as fp16 and are cast back to their dtype afterwards. A no-op outside DDP.
Follows mmdet ``projects/ViTDet``'s ``Fp16CompresssionHook``.
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch.nn.parallel import DistributedDataParallel


@HOOKS.register_module()
class Fp16CompressionHook(Hook):
    """Compress DDP gradients to fp16 for the all-reduce."""

    def before_train(self, runner) -> None:
        model = runner.model
        if isinstance(model, DistributedDataParallel):
            from torch.distributed.algorithms.ddp_comm_hooks import \
                default_hooks as comm_hooks
            model.register_comm_hook(state=None, hook=comm_hooks.fp16_compress_hook)
            runner.logger.info('DDP gradients are all-reduced in fp16 '
                               '(Fp16CompressionHook).')
