"""The paper configs without the estimator's results file they validate
on: one line naming the file and the option, exit code 2, before any
work (and training without validation needs no file)."""
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

pytestmark = pytest.mark.integration  # starts processes

PAPER_CONFIG = osp.join(REPO_ROOT, 'configs',
                        'posefix_res50_8xb9-240e_coco-256x192.py')


def _run(tool, tmp_path, *options):
    return subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', f'{tool}.py'), PAPER_CONFIG,
        *(['--work-dir', str(tmp_path / 'run')] if tool == 'train' else
          ['--random-weights']),
        '--cfg-options', f'data_root={tmp_path}/coco/', *options
    ], cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_train_names_the_results_file_and_the_option(tmp_path):
    proc = _run('train', tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr[-2000:]
    assert err[0].startswith('error: val_dataloader.dataset.input_file: '
                             f'no file {tmp_path}/coco/results/')
    assert '--cfg-options val_dataloader.dataset.input_file=' in err[0]
    assert '--no-validate' in err[0]
    assert not (tmp_path / 'run').exists()  # nothing started


def test_test_names_the_results_file(tmp_path):
    proc = _run('test', tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr[-2000:]
    assert '--cfg-options test_dataloader.dataset.input_file=' in err[0]


def test_test_without_weights_refused(tmp_path):
    """tools/test.py without CHECKPOINT on a config that names none: one
    line, exit 2, unless --random-weights asks for untrained weights."""
    config = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), config, '--work-dir',
        str(tmp_path / 'run')
    ], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr[-2000:]
    assert 'no CHECKPOINT' in err[0] and '--random-weights' in err[0]
    assert not (tmp_path / 'run').exists()
