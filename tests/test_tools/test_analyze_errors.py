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
