import importlib
import os.path as osp
import pickle
import subprocess

import pytest
import torch

from posefix_mm.utils import compat


def _nms_reference(boxes, scores, thr):
    """Brute-force greedy NMS, one box at a time."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    keep = []
    for i in order:
        ok = True
        for j in keep:
            x1 = max(boxes[i][0], boxes[j][0])
            y1 = max(boxes[i][1], boxes[j][1])
            x2 = min(boxes[i][2], boxes[j][2])
            y2 = min(boxes[i][3], boxes[j][3])
            inter = max(0., x2 - x1) * max(0., y2 - y1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.fixture
def random_boxes():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=gen) * 100
    wh = torch.rand(60, 2, generator=gen) * 40 + 1
    return torch.cat([xy, xy + wh], 1), torch.rand(60, generator=gen)


def test_torchvision_nms_matches_reference(random_boxes):
    from torchvision.ops import batched_nms, nms
    boxes, scores = random_boxes
    expected = _nms_reference(boxes.tolist(), scores.tolist(), 0.3)
    assert nms(boxes, scores, 0.3).tolist() == expected
    # one class per box: nothing suppresses anything
    idxs = torch.arange(len(boxes))
    assert sorted(batched_nms(boxes, scores, idxs, 0.3).tolist()) == list(
        range(len(boxes)))


def test_mmcv_nms_matches_reference(random_boxes):
    from mmcv.ops import nms
    boxes, scores = random_boxes
    dets, keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == _nms_reference(boxes.tolist(), scores.tolist(),
                                           0.5)
    assert torch.equal(dets[:, 4], scores[keep])


def test_missing_compiled_op_names_op_and_remedy():
    import mmcv._ext as ext
    if getattr(ext, '__file__', None):
        pytest.skip('mmcv has its compiled ops here')
    with pytest.raises(compat.MissingCompiledOpError,
                       match='roi_align_forward.*make setup-full'):
        ext.roi_align_forward(torch.zeros(1))


def test_openmmlab_apis_import():
    for name in ('mmpose.models', 'mmpose.apis', 'mmdet.apis', 'torchvision'):
        importlib.import_module(name)


class _NotWeights:
    pass


def test_apply_is_idempotent_and_loading_stays_weights_only(tmp_path):
    compat.apply()
    safe = list(torch.serialization.get_safe_globals())
    compat.apply()
    assert list(torch.serialization.get_safe_globals()) == safe
    # an object that is no weight is still refused by torch.load
    path = tmp_path / 'not_weights.pth'
    torch.save({'x': _NotWeights()}, path)
    with pytest.raises(pickle.UnpicklingError, match='_NotWeights'):
        torch.load(path)


def test_mmpose_imports_in_the_venv_without_posefix_mm(venv_bin, tmp_path):
    """The .pth hook `make setup` installs applies the fixes on the first
    import of mmpose: MMPose's own API and its visualizer work in a fresh
    interpreter that never imports posefix_mm."""
    import subprocess
    code = (
        'import sys, numpy as np\n'
        'from mmpose.apis import MMPoseInferencer\n'
        'from mmpose.visualization import PoseLocalVisualizer\n'
        'from mmengine.structures import InstanceData\n'
        "v = PoseLocalVisualizer(name='t', radius=3)\n"
        'img = np.zeros((64, 64, 3), np.uint8)\n'
        'kpts = InstanceData(keypoints=np.full((1, 2, 2), 30.),\n'
        '                    keypoint_scores=np.ones((1, 2)))\n'
        'out = v._draw_instances_kpts(img, kpts)\n'
        "print('posefix_mm' in sys.modules, int(out.sum() > 0))\n")
    proc = subprocess.run([f'{venv_bin}/python', '-c', code],
                          capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # posefix_mm's package was never imported, and the keypoints were drawn
    assert proc.stdout.split()[-2:] == ['False', '1']


def test_fixes_applied_once_and_logged_once(caplog, monkeypatch):
    import logging
    # as in a fresh process (this stack needs at least the weights-only
    # checkpoint fix); every fix is safe to repeat
    monkeypatch.setattr(compat, '_APPLIED', False)
    with caplog.at_level(logging.INFO, logger='posefix_mm'):
        compat.apply()
        compat.apply()
    records = [r for r in caplog.records
               if 'environment fixes' in r.getMessage()]
    assert len(records) == 1
    assert 'weights-only' in records[0].getMessage()


def test_no_pkg_resources_notice_in_the_venv(venv_bin, tmp_path):
    """The .pth hook silences setuptools' pkg_resources deprecation notice,
    which MMEngine's version checks print on MMPose's import otherwise (the
    pin is deliberate)."""
    proc = subprocess.run(
        [osp.join(venv_bin, 'python'), '-c', 'import mmpose.apis'],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'pkg_resources is deprecated' not in proc.stderr
