"""tools/test.py refuses checkpoints that are not the model's before any
work (MMEngine alone would load them with warnings and test a random
model); tools/train.py --resume refuses a file that is no checkpoint."""
import os.path as osp
import runpy
import sys

import pytest

from ..conftest import REPO_ROOT, save_model

CONFIG = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')
BASELINE = osp.join(REPO_ROOT, 'configs', 'baselines',
                    'td-hm_res18_coco-mini-128x96.py')


def _baseline_checkpoint(path):
    return save_model(BASELINE, path, init=False)


@pytest.mark.parametrize('name, make, message', [
    ('another model', _baseline_checkpoint, 'does not fit the model'),
    ('zero bytes', lambda p: open(p, 'wb').close() or p, 'is empty'),
    ('random bytes',
     lambda p: open(p, 'wb').write(bytes(range(256)) * 8) and p,
     'not a'),
])
def test_bad_checkpoint_refused(tmp_path, monkeypatch, name, make, message):
    monkeypatch.chdir(REPO_ROOT)
    ckpt = make(str(tmp_path / 'weights.pth'))
    monkeypatch.setattr(sys, 'argv', [
        'test.py', CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'work')
    ])
    with pytest.raises(SystemExit, match=f'CHECKPOINT: {ckpt}.*{message}'):
        runpy.run_path(
            osp.join(REPO_ROOT, 'tools', 'test.py'), run_name='__main__')


def test_train_resume_from_a_file_that_is_no_checkpoint(tmp_path,
                                                       monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    ckpt = tmp_path / 'iter_10.pth'
    ckpt.write_bytes(bytes(range(256)) * 8)
    monkeypatch.setattr(sys, 'argv', [
        'train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--resume',
        str(ckpt)
    ])
    with pytest.raises(SystemExit, match=f'--resume: {ckpt} is not a'):
        runpy.run_path(
            osp.join(REPO_ROOT, 'tools', 'train.py'), run_name='__main__')
    assert not (tmp_path / 'work').exists()
