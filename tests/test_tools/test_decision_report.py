"""tools/decision_report.py: input, refined, oracle and decision AP."""
import os.path as osp
import re

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
        '--thresholds', 0.0, 0.5, 1.0, '--out', tmp_path / 'report.json'
    ])
    assert report['input'] == pytest.approx(blazepose_file.ap)
    assert report['refined'] != pytest.approx(report['input'], abs=1e-3)
    # the oracle takes the nearer joint of the two: no worse than either
    assert report['oracle'] >= max(report['input'], report['refined'])
    # at threshold 0 nothing keeps its input, at 1 every present joint
    assert report['decision'][0.0] == pytest.approx(report['refined'])
    assert report['decision'][1.0] == pytest.approx(report['input'])
    printed = capsys.readouterr().out
    assert 'oracle per-joint choice' in printed and 'of headroom' in printed
    # how the probability tells moves apart: every present joint of the 75
    # poses moves under a random last layer
    assert report['moves'] > 500
    low, high = report['spread']
    assert f'ROC AUC {report["auc"]:.2f}' in printed
    assert f'5th-95th percentile {low:.2f}-{high:.2f}' in printed
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
                                           tmp_path, capsys, monkeypatch):
    """--save calibrates by image folds and writes a config; a refiner that
    only harms (a random last layer) is switched off with one line, and
    tools/refine.py run with the saved config from another folder gives the
    input's AP (present joints keep their input point)."""
    ann = osp.join(coco_mini, 'annotations/person_keypoints_val2017.json')
    results = osp.join(coco_mini, 'predictions/blazepose_full_val2017.json')
    img_dir = osp.join(coco_mini, 'val2017')
    saved = tmp_path / 'calibrated.py'
    report = run_tool('decision_report', [
        CONFIG, moving_checkpoint, '--input', results, '--img-dir', img_dir,
        '--ann', ann, '--thresholds', 0.0, 0.3, 0.6, 0.9, 1.0, '--folds', 3,
        '--save', saved
    ])
    printed = capsys.readouterr().out
    folds = report['calibration']['folds']
    assert len(folds) == 3
    assert all(f['refined'] < f['input'] for f in folds)
    assert 'refinement does not help this estimator' in printed
    assert report['calibration']['decision_thr'] == 1.0
    text = saved.read_text()
    assert not re.search(r'^_base_\s*=', text, re.M)  # one whole file
    assert Config.fromfile(str(saved)).model.test_cfg.decision_thr == 1.0
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    refined = run_tool('refine', [
        saved, moving_checkpoint, '--input', results, '--img-dir', img_dir,
        '--ann', ann, '--out', tmp_path / 'refined.json'
    ])
    assert refined['refined']['AP'] == pytest.approx(report['input'],
                                                     abs=1e-9)

