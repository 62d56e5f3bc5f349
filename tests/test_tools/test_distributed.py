"""Two CPU processes through MMEngine's pytorch launcher (gloo)."""
import os
import os.path as osp
import random
import re
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

pytestmark = pytest.mark.integration  # starts processes

CONFIG = 'configs/posefix_r18_coco-mini-128x96.py'


def _launch(work_dir, coco_mini, max_epochs, resume=False):
    port = random.randint(20000, 30000)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port',
        str(port), 'tools/train.py', CONFIG, '--launcher', 'pytorch',
        '--work-dir', work_dir
    ] + (['--resume'] if resume else []) + [
        '--cfg-options', f'train_dataloader.dataset.data_root={coco_mini}/',
        'train_dataloader.dataset.indices=16',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={max_epochs}', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        'env_cfg.dist_cfg.backend=gloo'
    ]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def test_two_processes_train_checkpoint_and_resume(tmp_path, coco_mini):
    work_dir = str(tmp_path)
    log = _launch(work_dir, coco_mini, max_epochs=1)
    assert 'Distributed training: True' in log
    # 16 samples, batch 4 per process: 2 iterations per epoch only if the
    # two ranks share the data (one process alone would need 4)
    assert 'Epoch(train) [1][2/2]' in log
    assert not re.search(r'Epoch\(train\) \[1\]\[\d/4\]', log)
    checkpoints = sorted(f for f in os.listdir(work_dir)
                         if f.endswith('.pth'))
    assert checkpoints == ['epoch_1.pth']

    log = _launch(work_dir, coco_mini, max_epochs=2, resume=True)
    assert 'resumed epoch: 1, iter: 2' in log
    assert 'Epoch(train) [2][2/2]' in log
    assert osp.exists(osp.join(work_dir, 'epoch_2.pth'))
