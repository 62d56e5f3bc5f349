"""The CrowdPose config (14 joints) trains and validates on a
CrowdPose-layout file made from coco_mini."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, TINY_TRAINING

pytestmark = pytest.mark.integration  # starts processes

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_res50_8xb9-240e_crowdpose-256x192.py')


def _to_crowdpose(coco: dict) -> dict:
    """COCO-17 annotations in CrowdPose's layout: shoulders ... ankles
    (COCO 5-16), then top of the head (here the nose) and the neck (the
    middle of the shoulders)."""
    out = dict(coco, images=[dict(i, crowdIndex=0.0) for i in coco['images']],
               annotations=[])
    for ann in coco['annotations']:
        k = [ann['keypoints'][3 * j:3 * j + 3] for j in range(17)]
        body = k[5:17]
        head = k[0]
        ls, rs = k[5], k[6]
        neck = ([(ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, 2]
                if ls[2] and rs[2] else [0, 0, 0])
        kpts = [v for p in body + [head, neck] for v in p]
        out['annotations'].append(
            dict(ann, keypoints=kpts,
                 num_keypoints=sum(v > 0 for v in kpts[2::3])))
    return out


def test_crowdpose_config_trains_and_validates(tmp_path, coco_mini):
    root = tmp_path / 'crowdpose'
    (root / 'annotations').mkdir(parents=True)
    os.symlink(f'{coco_mini}/val2017', root / 'images')
    with open(f'{coco_mini}/annotations/person_keypoints_val2017.json') as f:
        crowd = _to_crowdpose(json.load(f))
    for name in ('trainval', 'test'):
        (root / 'annotations' / f'mmpose_crowdpose_{name}.json').write_text(
            json.dumps(crowd))
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), CONFIG, '--work-dir',
        str(tmp_path / 'run'), '--cfg-options', f'data_root={root}',
        'model.pretrained_backbone=None', 'val_dataloader.dataset.indices=8',
        *TINY_TRAINING
    ], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # no statistics for 14 joints: derived from COCO's, and said
    assert 'no error tables for 14 keypoints' in log
    assert 'crowdpose/AP' in log and 'crowdpose-input/AP' in log
    assert osp.exists(tmp_path / 'run' / 'best_crowdpose_AP_epoch_1.pth')
