"""tools/blazepose_results.py: crops, and (where the optional MediaPipe venv
exists, `make blazepose-venv`) the real estimator on coco_mini val."""
import json
import os.path as osp
import runpy
import subprocess

import pytest

from ..conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'blazepose_results.py')
MEDIAPIPE_PYTHON = osp.join(REPO_ROOT, '.venv-blazepose', 'bin', 'python')


def test_crop_box_padded_square_inside_the_image():
    crop_box = runpy.run_path(TOOL)['crop_box']
    # a 40 x 100 box at (50, 20) in a 300 x 200 image, padded 1.25: a
    # 125 px square about its centre (70, 70): 7.5 .. 132.5, in pixels
    assert crop_box([50, 20, 40, 100], 1.25, 300, 200) == (7, 7, 132, 132)
    # padded beyond the image: cut at its borders
    assert crop_box([0, 0, 300, 200], 1.25, 300, 200) == (0, 0, 300, 200)


@pytest.mark.skipif(not osp.isfile(MEDIAPIPE_PYTHON),
                    reason='optional: make blazepose-venv')
def test_reproduces_the_blazepose_val_results(blazepose_file, coco_mini,
                                              tmp_path):
    """Run as coco_mini's BlazePose file was made: its AP again."""
    out = tmp_path / 'val.json'
    proc = subprocess.run([
        MEDIAPIPE_PYTHON, TOOL, '--ann',
        f'{coco_mini}/annotations/person_keypoints_val2017.json', '--img-dir',
        f'{coco_mini}/val2017', '--out',
        str(out)
    ], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from xtcocotools.coco import COCO
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from posefix_mm.evaluation import cocoeval_keypoints
    meta = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/coco.py'))
    coco = COCO(f'{coco_mini}/annotations/person_keypoints_val2017.json')
    stats = cocoeval_keypoints(coco, json.loads(out.read_text()),
                               meta['sigmas'])
    assert stats['AP'] == pytest.approx(blazepose_file.ap, abs=0.01)
