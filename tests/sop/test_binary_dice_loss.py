"""BinaryDiceLoss: foreground Dice of a 1-channel head, ignored pixels masked."""
import pytest
import torch

import mmpad  # noqa: F401
from mmpad.sop.binary_dice_loss import BinaryDiceLoss


def test_dice_by_hand():
    probs = torch.tensor([[[0.9, 0.2], [0.6, 0.1]]])
    target = torch.tensor([[[1, 0], [1, 255]]])
    logits = torch.logit(probs).unsqueeze(1)  # (1, 1, 2, 2)
    # valid pixels: (0,0) (0,1) (1,0); P = .9 + .2 + .6, T = 2, P∩T = .9 + .6
    expected = 1 - (2 * 1.5 + 1) / (1.7 + 2 + 1)
    loss = BinaryDiceLoss(smooth=1.0)(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_good_prediction_beats_inverted_one():
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:5, 3:7] = 1
    good = (target.float() * 20 - 10).unsqueeze(1)
    loss = BinaryDiceLoss()
    assert loss(good, target).item() < 0.02
    assert loss(-good, target).item() > 0.9


def test_all_zero_target_has_finite_loss_and_gradient():
    logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    loss = BinaryDiceLoss()(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and 0 < loss.item() < 1
    assert (logits.grad > 0).all()  # pushes the probabilities down


def test_mmseg_dice_loss_scores_the_background_for_one_channel():
    """Why mmseg's DiceLoss is not used: with one channel it rewards predicting the
    background mask (its one-hot keeps channel 0 = label 0)."""
    from mmseg.models.losses import DiceLoss
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[:, 2:5, 3:7] = 1
    good = (target.float() * 20 - 10).unsqueeze(1)
    mmseg_dice = DiceLoss(use_sigmoid=True)
    assert mmseg_dice(-good, target).item() < mmseg_dice(good, target).item()
    assert BinaryDiceLoss()(good, target).item() < BinaryDiceLoss()(-good, target).item()


def test_shape_errors():
    with pytest.raises(ValueError, match='single-channel'):
        BinaryDiceLoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='differ'):
        BinaryDiceLoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 5, 4, dtype=torch.long))


@pytest.mark.parametrize('amp_dtype', [torch.bfloat16, torch.float16])
def test_half_precision_prediction_is_reduced_in_float32(amp_dtype):
    """AMP heads give half-precision logits; the Dice sums run in float32 (the
    pixel mask is float32), so a 2 x 512 x 512 map, whose sums exceed the float16
    maximum 65504, still gives the float32 loss."""
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(2, 512, 512, generator=g) > 0.3).long()
    logits = (target.float() * 8 - 4 + torch.randn(2, 512, 512, generator=g))
    logits = logits.unsqueeze(1)
    ref = BinaryDiceLoss()(logits, target)
    half = logits.to(amp_dtype).requires_grad_()
    with torch.autocast('cpu', dtype=amp_dtype):
        loss = BinaryDiceLoss()(half, target)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert loss.item() == pytest.approx(ref.item(), abs=2e-3)
    loss.backward()
    assert torch.isfinite(half.grad).all()
