"""The demo config's pose-pretrained start, as `make demo` starts training
from it (BlazePose's converted weights, no PoseFix training): it already
knows where joints are, and its default decision keeps precise inputs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from posefix_mm.models.backbones import BLAZEPOSE_TO_COCO
from posefix_mm.utils.paths import resolve_path
from ..conftest import REPO_ROOT, run_tool, save_model

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_blazepose_coco-mini-lspet-256x192.py')


@pytest.fixture(scope='module')
def start_checkpoint(tmp_path_factory):
    weights = resolve_path(Config.fromfile(CONFIG).model.backbone.pretrained)
    if not osp.isfile(weights):
        pytest.fail(f'no converted BlazePose weights at {weights} '
                    '(make setup converts them)')
    torch.manual_seed(0)
    return save_model(CONFIG, tmp_path_factory.mktemp('start') / 'start.pth')


def test_config_takes_the_coco_landmarks():
    cfg = Config.fromfile(CONFIG)
    assert tuple(cfg.model.head.pretrained_final_layer.rows) == \
        BLAZEPOSE_TO_COCO
    assert cfg.model.head.pretrained_final_layer.checkpoint == \
        cfg.model.backbone.pretrained


def test_start_refines_a_real_estimator_above_its_input(
        start_checkpoint, coco_mini, tmp_path):
    # wrong landmark rows, BGR input or another scale would fall below
    table = run_tool('refine', [
        CONFIG, start_checkpoint, '--input',
        osp.join(coco_mini, 'predictions/blazepose_full_val2017.json'),
        '--img-dir',
        osp.join(coco_mini, 'val2017'), '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
        '--out', tmp_path / 'refined.json', '--cfg-options',
        'model.test_cfg.decision_thr=None'
    ])
    assert table['refined']['AP'] > table['input']['AP'] + 0.01


def test_default_keeps_precise_inputs(start_checkpoint, coco_mini):
    thr = Config.fromfile(CONFIG).model.test_cfg.decision_thr
    report = run_tool('decision_report', [
        CONFIG, start_checkpoint, '--synthetic', 'good', '--seed', 1,
        '--images', '0:8', '--img-dir',
        osp.join(coco_mini, 'train2017'), '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_train2017.json'),
        '--thresholds', thr
    ])
    assert report['input'] > 0.8  # near the truth
    assert report['decision'][thr] >= report['input']
