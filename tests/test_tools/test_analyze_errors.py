"""tools/analyze_errors.py on coco_mini val with the BlazePose results."""
import json
import os
import os.path as osp
import runpy

import pytest

from ..conftest import REPO_ROOT


def run(args):
    namespace = runpy.run_path(
        osp.join(REPO_ROOT, 'tools', 'analyze_errors.py'), run_name='tool')
    return namespace['main']([str(a) for a in args])


@pytest.fixture
def paths(coco_mini):
    return dict(
        ann=osp.join(coco_mini, 'annotations/person_keypoints_val2017.json'),
        input=osp.join(coco_mini, 'predictions/blazepose_full_val2017.json'))


def test_report_and_plots(paths, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / 'out'
    report = run(['--ann', paths['ann'], '--input', paths['input'],
                  '--refined', paths['input'], '--out-dir', out])
    saved = json.loads((out / 'report.json').read_text())
    fractions = saved['input']['fractions']
    assert set(fractions) == {'good', 'jitter', 'inversion', 'swap', 'miss'}
    assert sum(fractions.values()) == pytest.approx(1)
    assert saved['input']['matched'] > 40
    # the same file twice: nothing changes
    matrix = report['comparison']['transitions']
    assert all(matrix[i][j] == 0 for i in range(5) for j in range(5)
               if i != j)
    assert sorted(os.listdir(out)) == [
        'error_types.png', 'error_types_per_joint.png',
        'oks_before_after.png', 'report.json'
    ]


@pytest.mark.parametrize('content, message', [
    ('[{"image_id": 1}]', 'entry 0: missing field "category_id"'),
    ('{"a": 1}', 'expected a list'),
])
def test_malformed_refused_nothing_written(paths, tmp_path, content,
                                           message, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    bad = tmp_path / 'bad.json'
    bad.write_text(content)
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match=message):
        run(['--ann', paths['ann'], '--input', paths['input'], '--refined',
             bad, '--out-dir', out])
    assert not out.exists()


def _gt_without_person(gt):
    return dict(gt, categories=[dict(c, id=2) for c in gt['categories']])


def _gt_33_keypoints(gt):
    cat = dict(gt['categories'][0], keypoints=[f'p{i}' for i in range(33)])
    return dict(gt, categories=[cat])


@pytest.mark.parametrize('name, change, message', [
    ('no person category', _gt_without_person, 'no person category'),
    ('33 keypoints', _gt_33_keypoints, 'has 33 keypoints'),
])
def test_bad_ground_truth_named(paths, tmp_path, monkeypatch, name, change,
                                message):
    monkeypatch.chdir(REPO_ROOT)
    with open(paths['ann']) as f:
        gt = json.load(f)
    bad = tmp_path / 'gt.json'
    bad.write_text(json.dumps(change(gt)))
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match=f'--ann {bad}: .*{message}'):
        run(['--ann', bad, '--input', paths['input'], '--out-dir', out])
    assert not out.exists()


def test_results_of_another_skeleton_named(paths, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    results = [dict(image_id=785, category_id=1, keypoints=[1.0] * 99,
                    score=1.0)]
    bad = tmp_path / 'r33.json'
    bad.write_text(json.dumps(results))
    with pytest.raises(SystemExit, match='keypoints" has 99 values'):
        run(['--ann', paths['ann'], '--input', bad, '--out-dir',
             tmp_path / 'out'])
    assert not (tmp_path / 'out').exists()


def test_out_dir_that_is_a_file(paths, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    a_file = tmp_path / 'report'
    a_file.write_text('x')
    with pytest.raises(SystemExit, match=f'--out-dir {a_file} is a file'):
        run(['--ann', paths['ann'], '--input', paths['input'], '--out-dir',
             a_file])
    assert a_file.read_text() == 'x'
