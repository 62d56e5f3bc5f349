"""The paper config as a COCO user runs it: from another working folder,
the data moved by one `data_root` override, validated on a real
estimator's results (coco_mini's BlazePose file)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, TINY_TRAINING

PAPER_CONFIG = osp.join(REPO_ROOT, 'configs',
                        'posefix_res50_8xb9-240e_coco-256x192.py')


def test_paper_recipe_from_another_folder(blazepose_file, tmp_path, coco_mini):
    # a data root the config has never heard of
    data_root = tmp_path / 'datasets' / 'coco'
    data_root.parent.mkdir()
    os.symlink(coco_mini, data_root)
    work = tmp_path / 'elsewhere'
    work.mkdir()
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), PAPER_CONFIG,
        '--work-dir', 'run', '--cfg-options', f'data_root={data_root}',
        'val_dataloader.dataset.input_file='
        f'{data_root}/predictions/blazepose_full_val2017.json',
        'model.pretrained_backbone=None', *TINY_TRAINING
    ], cwd=work, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # nothing of the config still points at the default data root
    dumped = (work / 'run' / osp.basename(PAPER_CONFIG)).read_text()
    assert "'data/coco/" not in dumped and str(data_root) in dumped
    # validation refined BlazePose's val results: its input AP is the
    # file's (as pycocotools computes it), next to the refined AP
    metrics = {}
    for line in (work / 'run').glob('*/vis_data/scalars.json'):
        for record in map(json.loads, line.read_text().splitlines()):
            metrics.update(record)
    assert metrics['coco-input/AP'] == pytest.approx(
        blazepose_file.ap, abs=0.002)
    assert 0 <= metrics['coco/AP'] <= 1
    # the best checkpoint is chosen by the refined AP
    assert list((work / 'run').glob('best_coco_AP_epoch_1.pth'))
