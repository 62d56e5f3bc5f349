"""tools/decision_report.py refuses, in one line and before writing
anything, inputs that cannot give a report or a calibrated config
(docs/bad_input.md)."""
import json
import os.path as osp
import shutil

import pytest

from ..conftest import REPO_ROOT, run_tool
from ..synthetic import results_of, write_coco, write_results

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_blazepose_coco-mini-lspet-256x192.py')


@pytest.fixture
def case(tmp_path):
    data = write_coco(tmp_path / 'coco', num_images=2)
    checkpoint = tmp_path / 'never_loaded.pth'
    checkpoint.write_bytes(b'')
    results = write_results(tmp_path / 'results.json', results_of(data))
    return dict(data=data, checkpoint=str(checkpoint), results=results,
                save=tmp_path / 'calibrated.py')


def _refused(capsys, args, *expected):
    with pytest.raises(SystemExit) as e:
        run_tool('decision_report', args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


def _args(case, config=CONFIG, results=None, ann=None, extra=()):
    return [
        config, case['checkpoint'], '--input', results or case['results'],
        '--ann', ann or case['data']['ann'], '--img-dir',
        case['data']['img_dir'], '--save', case['save'], *extra
    ]


def test_save_onto_the_config_itself(case, tmp_path, capsys):
    config = tmp_path / 'mine.py'
    shutil.copy(CONFIG, config)
    before = config.read_text()
    args = _args(case, config=str(config))
    args[args.index('--save') + 1] = str(tmp_path / '.' / 'mine.py')
    _refused(capsys, args, 'is CONFIG itself')
    assert config.read_text() == before


@pytest.mark.parametrize('thresholds', [['1.5'], ['-1'], ['nan'],
                                        ['0.5', 'nan']])
def test_thresholds_that_are_no_probabilities(case, capsys, thresholds):
    _refused(capsys, _args(case, extra=['--thresholds', *thresholds]),
             '--thresholds', 'in [0, 1]')
    assert not osp.exists(case['save'])


def test_results_of_images_the_annotations_lack(case, tmp_path, capsys):
    results = results_of(case['data'])
    results[1]['image_id'] = 99
    path = write_results(tmp_path / 'other.json', results)
    _refused(capsys, _args(case, results=path), path,
             '1 entries name images', 'entry 1')
    assert not osp.exists(case['save'])


def test_annotations_without_a_person(case, tmp_path, capsys):
    coco = dict(case['data']['coco'])
    coco['annotations'] = [
        dict(a, num_keypoints=0, keypoints=[0] * 51)
        for a in coco['annotations']
    ]
    ann = tmp_path / 'nobody.json'
    ann.write_text(json.dumps(coco))
    _refused(capsys, _args(case, ann=str(ann)), str(ann),
             'no person with keypoints')
    assert not osp.exists(case['save'])


def test_one_fold_cannot_hold_out(case, capsys):
    _refused(capsys, _args(case, extra=['--folds', '1']), '--folds 1')
    assert not osp.exists(case['save'])


def test_missing_files_are_named(case, tmp_path, capsys):
    missing = str(tmp_path / 'nope.json')
    _refused(capsys, _args(case, results=missing), '--input', missing)
    _refused(capsys, _args(case, ann=missing), '--ann', missing)


def test_report_lines_say_the_headroom_share():
    from posefix_mm.apis.decision_report import report_lines
    lines = report_lines(
        dict(n=10, input=0.5, refined=0.6, oracle=0.7, auc=0.61,
             spread=(0.2, 0.9), moves=40, refined_better=0.55,
             decision={0.5: 0.6, 0.7: 0.55}, chosen=0.5))
    assert lines[0] == ('10 poses: input AP 0.500, all refined 0.600, '
                        'oracle per-joint choice 0.700 (headroom +0.200)')
    assert 'ROC AUC 0.61' in lines[1] and '55% of them' in lines[1]
    assert lines[2] == ('  decision thr 0.50: AP 0.600 (+0.100; 50% of '
                        'headroom)')
    assert lines[3].endswith('+0.050; 25% of headroom)')
    assert lines[-1].endswith('model.test_cfg.decision_thr=0.5')
