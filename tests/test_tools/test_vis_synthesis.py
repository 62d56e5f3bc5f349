import runpy
import sys

import cv2

from ..conftest import REPO_ROOT


def test_vis_synthesis_writes_png(tmp_path, coco_mini, monkeypatch):
    out = tmp_path / 'grid.png'
    monkeypatch.setattr(sys, 'argv', [
        'vis_synthesis.py', '--data', coco_mini, '--out',
        str(out), '--num', '2', '--draws', '2'
    ])
    runpy.run_path(f'{REPO_ROOT}/tools/vis_synthesis.py', run_name='__main__')
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 200
    # not a blank canvas: the photos are drawn
    assert img.std() > 20
