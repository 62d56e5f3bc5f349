"""Loading a refiner's weights: another model's checkpoint and files that
are not checkpoints are errors that name the file."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from posefix_mm.utils import CheckpointError, load_weights
from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')
BASELINE = osp.join(REPO_ROOT, 'configs', 'baselines',
                    'td-hm_res18_coco-mini-128x96.py')


def _model(config):
    init_default_scope('mmpose')
    return MODELS.build(Config.fromfile(config).model)


def test_own_checkpoint_loads(tmp_path):
    source, target = _model(CONFIG), _model(CONFIG)
    path = str(tmp_path / 'own.pth')
    torch.save(dict(state_dict=source.state_dict(), meta=dict(a=1)), path)
    assert load_weights(target, path)['meta'] == dict(a=1)
    for (name, a), b in zip(source.state_dict().items(),
                            target.state_dict().values()):
        assert torch.equal(a, b), name


def test_another_models_checkpoint_names_keys(tmp_path):
    path = str(tmp_path / 'simplebaseline.pth')
    torch.save(dict(state_dict=_model(BASELINE).state_dict()), path)
    with pytest.raises(CheckpointError) as info:
        load_weights(_model(CONFIG), path, 'refiner')
    message = str(info.value)
    assert message.startswith(f'refiner: {path} does not fit the model')
    assert 'missing' in message and 'of the wrong shape' in message
    assert 'backbone.conv1.weight (64, 3, 7, 7) (model (64, 20, 7, 7))' \
        in message


@pytest.mark.parametrize('name, data, message', [
    ('zero bytes', b'', 'is empty'),
    ('random bytes', bytes(range(256)) * 8, 'not a'),
    ('text', b'{"state_dict": {}}', 'not a'),
])
def test_files_that_are_not_checkpoints(tmp_path, name, data, message):
    path = tmp_path / 'weights.pth'
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=message) as info:
        load_weights(_model(CONFIG), str(path), 'refiner')
    assert str(path) in str(info.value)
    assert 'weights_only=False' not in str(info.value)
