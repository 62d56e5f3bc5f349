"""tools/decision_report.py: input, refined, oracle and decision AP."""
import os.path as osp

import pytest
from mmengine.config import Config

from ..conftest import REPO_ROOT, random_last_layer, run_tool, save_model

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')


@pytest.fixture(scope='module')
def moving_checkpoint(tmp_path_factory):
    """The demo model with a random last layer: it moves joints, so input,
    refined and oracle differ."""
    return save_model(CONFIG,
                      tmp_path_factory.mktemp('ckpt') / 'posefix.pth',
                      random_last_layer)


def test_report_on_blazepose(blazepose_file, moving_checkpoint, coco_mini,
                             tmp_path, capsys):
    report = run_tool('decision_report', [
        CONFIG, moving_checkpoint, '--input',
        osp.join(coco_mini, 'predictions/blazepose_full_val2017.json'),
        '--img-dir',
        osp.join(coco_mini, 'val2017'), '--ann',
        osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
        '--thresholds', 0.0, 0.5, 1.01, '--out', tmp_path / 'report.json'
    ])
    assert report['input'] == pytest.approx(blazepose_file.ap)
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


def test_calibration_config_used_by_refine(moving_checkpoint, coco_mini,
                                           tmp_path, capsys):
    """--save writes the chosen threshold as a config; tools/refine.py with
    it gives the AP the report promised, never below the input's."""
    ann = osp.join(coco_mini, 'annotations/person_keypoints_val2017.json')
    results = osp.join(coco_mini, 'predictions/blazepose_full_val2017.json')
    img_dir = osp.join(coco_mini, 'val2017')
    saved = tmp_path / 'calibrated.py'
    report = run_tool('decision_report', [
        CONFIG, moving_checkpoint, '--input', results, '--img-dir', img_dir,
        '--ann', ann, '--thresholds', 0.0, 0.3, 0.6, 0.9, 1.0, '--save', saved
    ])
    chosen = report['chosen']
    assert report['decision'][chosen] >= report['input']
    assert f'model.test_cfg.decision_thr={chosen}' in capsys.readouterr().out
    assert Config.fromfile(str(saved)).model.test_cfg.decision_thr == chosen
    refined = run_tool('refine', [
        saved, moving_checkpoint, '--input', results, '--img-dir', img_dir,
        '--ann', ann, '--out', tmp_path / 'refined.json'
    ])
    assert refined['refined']['AP'] == pytest.approx(
        report['decision'][chosen], abs=1e-9)


def test_save_needs_a_config_name(moving_checkpoint, coco_mini, tmp_path):
    with pytest.raises(SystemExit, match='ends in .py'):
        run_tool('decision_report', [
            CONFIG, moving_checkpoint, '--synthetic', 'good', '--img-dir',
            osp.join(coco_mini, 'val2017'), '--ann',
            osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
            '--save', tmp_path / 'calibrated.json'
        ])
    assert not osp.exists(tmp_path / 'calibrated.json')
