"""tools/demo.py reuses the checkpoint in its work dir, refines the BlazePose
results and ends with the AP table (training itself: test_distributed,
test_mim and the 10-minute `make demo`)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, save_model

pytestmark = pytest.mark.integration  # starts processes

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_blazepose_coco-mini-lspet-256x192.py')


def test_demo_reuses_checkpoint_and_prints_ap_table(blazepose_file, tmp_path,
                                                    coco_mini, lspet):
    train_dir = tmp_path / osp.splitext(osp.basename(CONFIG))[0]
    train_dir.mkdir()
    ckpt = save_model(CONFIG, train_dir / 'iter_900.pth')
    (train_dir / 'last_checkpoint').write_text(ckpt)
    # another config's checkpoint in the work dir itself is not taken
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'other.pth'))
    proc = subprocess.run(
        [
            sys.executable,
            osp.join(REPO_ROOT, 'tools', 'demo.py'), '--data', coco_mini,
            '--lspet', lspet, '--work-dir',
            str(tmp_path)
        ],
        env=dict(os.environ, PYTHONPATH=REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f'reusing {ckpt}' in out
    assert 'train.py' not in out  # no training
    table = out[out.index('COCO keypoint AP/AR'):]
    assert 'input' in table and 'refined' in table and 'change' in table
    assert osp.isfile(tmp_path / 'refined_blazepose_full_val2017.json')
    # a picture per refined person (75 BlazePose poses in 40 images)
    assert len(os.listdir(tmp_path / 'vis')) == blazepose_file.count
