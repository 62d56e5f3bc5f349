"""The BlazePose weights converted from the MediaPipe wheel compute what the
TFLite file computes (LiteRT's interpreter) on real coco_mini images."""
import glob
import os
import os.path as osp
import zipfile

import cv2
import numpy as np
import pytest
import torch

from posefix_mm.converters.blazepose_checks import (TFLITE_SHA256,
                                                    check_pad, check_padding,
                                                    check_resize,
                                                    check_sha256)
from posefix_mm.converters.blazepose_tflite import (TFLITE_MEMBER, convert,
                                                    litert_difference,
                                                    read_tflite)
from posefix_mm.models.backbones import BlazePoseBackbone
from posefix_mm.utils.paths import posefix_home
from ..conftest import run_tool

# the heatmap logits reach |70| on these images; float32 accumulation in
# another order moves them by ~2e-4 (measured)
ATOL = 2e-3


@pytest.fixture(scope='module')
def wheel():
    """The wheel `make setup` downloads (override:
    POSEFIX_MEDIAPIPE_WHEEL)."""
    wheel = os.environ.get('POSEFIX_MEDIAPIPE_WHEEL')
    if wheel is None:
        folder = osp.join(posefix_home(), 'pretrained')
        found = glob.glob(osp.join(folder, 'mediapipe-0.10.21-*.whl'))
        if not found:
            pytest.fail(f'no mediapipe 0.10.21 wheel in {folder} (make '
                        'setup downloads it); or set '
                        'POSEFIX_MEDIAPIPE_WHEEL')
        wheel = found[0]
    return wheel


@pytest.fixture(scope='module')
def tflite_bytes(wheel):
    return read_tflite(wheel)


def test_converted_network_matches_tflite(tflite_bytes, coco_mini, tmp_path):
    from ai_edge_litert.interpreter import Interpreter
    model_path = tmp_path / osp.basename(TFLITE_MEMBER)
    model_path.write_bytes(tflite_bytes)
    interpreter = Interpreter(str(model_path))
    interpreter.allocate_tensors()
    heatmap_out = [
        o for o in interpreter.get_output_details()
        if o['shape'][-1] == 39
    ][0]
    state = convert(tflite_bytes)
    backbone = BlazePoseBackbone(in_channels=3).eval()
    backbone.load_image_weights(state, 'converted')
    heatmap = torch.nn.Conv2d(48, 39, 1)
    heatmap.load_state_dict({
        'weight': state['heatmap.weight'],
        'bias': state['heatmap.bias']
    })
    images = sorted(glob.glob(osp.join(coco_mini, 'val2017', '*.jpg')))[:3]
    for path in images:
        rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        x = cv2.resize(rgb, (256, 256)).astype(np.float32) / 255
        interpreter.set_tensor(interpreter.get_input_details()[0]['index'],
                               x[None])
        interpreter.invoke()
        expected = interpreter.get_tensor(
            heatmap_out['index'])[0].transpose(2, 0, 1)
        with torch.no_grad():
            got = heatmap(backbone(torch.from_numpy(x).permute(
                2, 0, 1)[None])[0])[0].numpy()
        assert np.abs(expected).max() > 10, path  # real, peaked heatmaps
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL,
                                   err_msg=path)


def test_another_model_refused(wheel):
    # the wheel's person detector: a TFLite model, but no landmark heatmap
    with zipfile.ZipFile(wheel) as f:
        detector = f.read(
            'mediapipe/modules/pose_detection/pose_detection.tflite')
    with pytest.raises(ValueError, match='39 heatmaps'):
        convert(detector)


@pytest.mark.parametrize('case', ['the detector', 'not a zip', 'no file'])
def test_convert_tool_refuses_other_files(wheel, tmp_path, case):
    out = tmp_path / 'weights.pth'
    if case == 'the detector':
        source = tmp_path / 'pose_detection.tflite'
        with zipfile.ZipFile(wheel) as f:
            source.write_bytes(f.read(
                'mediapipe/modules/pose_detection/pose_detection.tflite'))
        args = ['--tflite', source]
    elif case == 'not a zip':
        source = tmp_path / 'mediapipe-0.10.21-x.whl'
        source.write_bytes(b'not a wheel')
        args = ['--wheel', source]
    else:
        source = tmp_path / 'none.tflite'
        args = ['--tflite', source]
    with pytest.raises(SystemExit, match=str(source)):
        run_tool('convert_blazepose', args + ['--out', out])
    assert not out.exists()


def test_convert_tool_writes_once(wheel, tmp_path, capsys):
    out = tmp_path / 'weights.pth'
    run_tool('convert_blazepose', ['--wheel', wheel, '--out', out])
    meta = torch.load(out)['meta']
    assert meta['license'].startswith('Apache-2.0')
    assert meta['source'].endswith(TFLITE_MEMBER)
    written = out.stat().st_mtime_ns
    run_tool('convert_blazepose', ['--wheel', wheel, '--out', out])
    assert 'exists' in capsys.readouterr().out
    assert out.stat().st_mtime_ns == written


def test_litert_check_of_the_wheel(tflite_bytes):
    """What the converter checks when it converts: the documented file,
    and, LiteRT being installed here, heatmaps within LITERT_ATOL; with a
    layer's weights changed, far from LiteRT's."""
    assert check_sha256(tflite_bytes, 'wheel') == TFLITE_SHA256
    state = convert(tflite_bytes)
    assert litert_difference(tflite_bytes, state) <= ATOL
    state['heatmap.bias'] = state['heatmap.bias'] + 0.1
    assert litert_difference(tflite_bytes, state) > 0.05


def test_another_file_named_by_its_sha256():
    with pytest.raises(ValueError, match='x.tflite: sha256 .* is not the '
                       f'documented {TFLITE_SHA256[:12]}'):
        check_sha256(b'other bytes', 'x.tflite')


def test_wheel_without_the_landmark_model_named(tmp_path):
    wheel = tmp_path / 'mediapipe-0.10.21-x.whl'
    with zipfile.ZipFile(wheel, 'w') as f:
        f.writestr('mediapipe/__init__.py', '')
    with pytest.raises(ValueError, match='a wheel without the landmark '
                       'model mediapipe/modules/pose_landmark/'):
        read_tflite(str(wheel))


def test_pads_and_resizes_read_not_assumed():
    assert check_pad(np.array([[0, 0], [2, 2], [2, 2], [0, 0]]), 3) == 2
    for bad in ([[0, 0], [0, 1], [0, 1], [0, 0]],
                [[0, 0], [1, 1], [2, 2], [0, 0]],
                [[0, 0], [1, 1], [1, 1], [1, 1]]):
        with pytest.raises(ValueError, match=r'op 3 \(PAD\)'):
            check_pad(np.array(bad), 3)
    # after a PAD of 2: a VALID 5x5 stride-2 convolution; else SAME, 1
    check_padding(False, 2, 2, 2, 5, 4)
    check_padding(True, 1, 1, None, 3, 4)
    check_padding(False, 1, 1, None, 1, 4)
    for args in ((True, 2, 2, 2, 5), (False, 2, 2, 1, 5),
                 (False, 1, 1, None, 3), (True, 2, 2, None, 3),
                 (False, 2, 1, 2, 5)):
        with pytest.raises(ValueError, match='op 4 .*not the padding'):
            check_padding(*args, 4)
    check_resize(False, True, 5)
    for args in ((True, False), (False, False)):
        with pytest.raises(ValueError, match=r'op 5 \(RESIZE_BILINEAR\)'):
            check_resize(*args, 5)
