"""tools/decision_report.py: input, refined, oracle and decision AP."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from ..conftest import REPO_ROOT, run_tool

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')


@pytest.fixture(scope='module')
def moving_checkpoint(tmp_path_factory):
    """The demo model with a random last layer: it moves joints, so input,
    refined and oracle differ."""
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    model.init_weights()
    torch.manual_seed(0)
    model.head.final_layer.weight.data.normal_(std=1.0)
    path = str(tmp_path_factory.mktemp('ckpt') / 'posefix.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def test_report_on_blazepose(moving_checkpoint, coco_mini, tmp_path, capsys):
    report = run_tool('decision_report', [
        CONFIG, moving_checkpoint, '--input',
        osp.join(coco_mini, 'predictions/blazepose_full_val2017.json'),
        '--img-dir',
        osp.join(coco_mini, 'val2017'), '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
        '--thresholds', 0.0, 0.5, 1.01, '--out', tmp_path / 'report.json'
    ])
    assert report['input'] == pytest.approx(0.212, abs=0.002)
    assert report['refined'] != pytest.approx(report['input'], abs=1e-3)
    # the oracle takes the nearer joint of the two: no worse than either
    assert report['oracle'] >= max(report['input'], report['refined'])
    # below threshold 0 nothing keeps its input, below 1.01 everything
    assert report['decision'][0.0] == pytest.approx(report['refined'])
    assert report['decision'][1.01] == pytest.approx(report['input'])
    printed = capsys.readouterr().out
    assert 'oracle per-joint choice' in printed and 'of headroom' in printed
    assert osp.isfile(tmp_path / 'report.json')


def test_synthetic_inputs_on_held_out_persons(moving_checkpoint, coco_mini):
    report = run_tool('decision_report', [
        CONFIG, moving_checkpoint, '--synthetic', 'good', '--images', '0:8',
        '--img-dir',
        osp.join(coco_mini, 'train2017'), '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_train2017.json'),
        '--thresholds', 0.5
    ])
    # "good" inputs are near the truth: a moving refiner only loses
    assert report['input'] > 0.8
    assert report['refined'] < report['input']
