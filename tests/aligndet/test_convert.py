"""mmpad.aligndet.convert: the online detector without projectors (and
regressors), every other key accounted for in the report."""
import pytest
import torch

from mmpad.aligndet.convert import convert_state_dict
from mmpad.core.checkpoint import CheckpointConversionError, CheckpointError


def test_keep_regressors_and_report_groups():
    state = {'online.neck.w': torch.ones(1),
             'online.bbox_head.retina_reg.weight': torch.ones(1),
             'online.bbox_head.retina_cls.0.weight': torch.ones(1),
             'target.neck.w': torch.ones(1), 'data_preprocessor.mean': torch.ones(1)}
    out, report = convert_state_dict(state)
    assert set(out) == {'neck.w'}
    assert report['target'] == ['target.neck.w']
    assert report['other'] == ['data_preprocessor.mean']
    out, _ = convert_state_dict(state, keep_regressors=True)
    assert set(out) == {'neck.w', 'bbox_head.retina_reg.weight'}


def test_not_an_aligndet_checkpoint_is_a_conversion_error():
    with pytest.raises(CheckpointConversionError,
                       match="plain.pth: not an AlignDet pre-training "
                       "checkpoint: no key starts with 'online.'") as err:
        convert_state_dict({'backbone.w': torch.ones(1)}, source='plain.pth')
    # one family, and still the ValueError the tool used to catch
    assert isinstance(err.value, CheckpointError)
    assert isinstance(err.value, ValueError)
