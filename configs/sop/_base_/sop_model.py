# SOP model pieces shared by the pre-training configs: the 6-channel data
# preprocessor and the binary-mode settings of the downstream heads (mmpad's design):
# one output channel, threshold 0.5, BCE-with-logits + Dice 1:1 (aux head 0.4).
# BinaryDiceLoss instead of mmseg's DiceLoss: see mmpad/sop/binary_dice_loss.py.
sop_data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53] * 2,
    std=[58.395, 57.12, 57.375] * 2,
    bgr_to_rgb=False,  # 6-channel input: SubimageOverlap(to_rgb=True) converts
    size_divisor=32,  # parents are P x P crops; pads smaller images in a batch
    pad_val=0,
    seg_pad_val=255)
sop_decode_head = dict(
    num_classes=2, out_channels=1, threshold=0.5,
    loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
             loss_name='loss_bce'),
        dict(type='BinaryDiceLoss', loss_weight=1.0, loss_name='loss_dice'),
    ])
sop_auxiliary_head = dict(
    num_classes=2, out_channels=1, threshold=0.5,
    loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.4,
             loss_name='loss_bce'),
        dict(type='BinaryDiceLoss', loss_weight=0.4, loss_name='loss_dice'),
    ])
