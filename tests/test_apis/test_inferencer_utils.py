"""The inferencer's helpers (posefix_mm.apis.inferencers.utils) on inputs
built in memory or in a temporary folder."""
import json

import cv2
import numpy as np
import pytest
from mmengine.structures import InstanceData

from posefix_mm.apis.inferencers.utils import (as_bgr, check_bboxes,
                                               check_inputs, instance_dicts,
                                               media_type, track_instances)

BAD_BOXES = {
    'count': ([[[0, 0, 5, 5]]], 2, 'one list of boxes per input'),
    'text': ([[['a', 0, 5, 5]]], 1, r'bboxes\[0\]: not a list of boxes'),
    'three numbers': ([[[0, 0, 5]]], 1, 'x1 y1 x2 y2 .* got 3'),
    'empty box': ([[[0, 0, 5, 5], [3, 3, 3, 9]]], 1, r'bboxes\[0\]\[1\]'),
    'nan': ([[], [[0, np.nan, 5, 5]]], 2, r'bboxes\[1\]\[0\]: .* finite'),
}


@pytest.mark.parametrize('boxes, n, message', BAD_BOXES.values(),
                         ids=BAD_BOXES.keys())
def test_bad_boxes_named(boxes, n, message):
    with pytest.raises(ValueError, match=message):
        check_bboxes(boxes, n)


def test_good_boxes_pass():
    check_bboxes(None, 3)
    check_bboxes([], 3)
    check_bboxes([[[0, 0, 5, 5, 0.9]], []], 2)
    check_bboxes([[[0, 0, 5, 5]]], None)  # a video: the count unknown


@pytest.fixture
def folders(tmp_path):
    img = np.full((8, 8, 3), 100, np.uint8)
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.jpg'), img)
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    cv2.imwrite(str(mixed / 'a.jpg'), img)
    (mixed / 'notes.qqq').write_text('x')
    empty = tmp_path / 'empty'
    empty.mkdir()
    (tmp_path / 'cut.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42')
    return tmp_path


BAD_INPUTS = {
    'array shape': (lambda d: np.zeros((4, 4, 2), np.uint8), ValueError,
                    r'\(H, W\) or \(H, W, 1\|3\|4\)'),
    'type': (lambda d: 5, TypeError, 'got int'),
    'webcam in a list': (lambda d: ['webcam', str(d / 'images' / 'a.jpg')],
                         ValueError, 'cannot be part of a list'),
    'missing': (lambda d: str(d / 'nope.jpg'), FileNotFoundError,
                'no file or folder'),
    'folder in a list': (lambda d: [str(d / 'images')], ValueError,
                         'pass a folder alone'),
    'unknown file in folder': (lambda d: str(d / 'mixed'), ValueError,
                               'notes.qqq are no image files'),
    'folder without images': (lambda d: str(d / 'empty'), ValueError,
                              'a folder without images'),
    'damaged video': (lambda d: str(d / 'cut.mp4'), ValueError,
                      'cut.mp4: no frame can be read'),
}


@pytest.mark.parametrize('make, error, message', BAD_INPUTS.values(),
                         ids=BAD_INPUTS.keys())
def test_bad_inputs_named(folders, make, error, message):
    with pytest.raises(error, match=message):
        check_inputs(make(folders))


def test_good_inputs_pass(folders):
    check_inputs(str(folders / 'images'))
    check_inputs([str(folders / 'images' / 'a.jpg'),
                  np.zeros((4, 4), np.uint8)])
    check_inputs('webcam')


def test_media_types_by_name():
    assert [media_type(n) for n in ('a.jpg', 'b.PNG', 'c.mp4', 'd.qqq')] \
        == ['image', 'image', 'video', None]


def test_as_bgr_gives_three_channels():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert as_bgr(gray).shape == (3, 4, 3)
    np.testing.assert_array_equal(as_bgr(gray)[..., 1], gray)
    bgra = np.dstack([gray, gray + 1, gray + 2, np.full_like(gray, 255)])
    np.testing.assert_array_equal(as_bgr(bgra), bgra[..., :3])


def _persons(*corners):
    kpts = np.stack([
        np.array([[0, 0], [20, 40]], np.float32) + np.asarray(c, np.float32)
        for c in corners
    ])
    return InstanceData(
        keypoints=kpts,
        keypoint_scores=np.ones(kpts.shape[:2], np.float32),
        bboxes=np.concatenate([kpts.min(1), kpts.max(1)], 1))


def test_tracks_follow_the_boxes_across_frames():
    state = {}
    first = _persons((0, 0), (100, 0))
    track_instances(first, state, True, False, 0.3, None)
    assert first.track_id.tolist() == [0, 1]
    # the next frame lists them the other way round, and a newcomer
    second = _persons((101, 1), (1, 1), (200, 100))
    track_instances(second, state, True, False, 0.3, None)
    assert second.track_id.tolist() == [1, 0, 2]
    # images of a list are not a video: each starts afresh
    third = _persons((101, 1))
    track_instances(third, state, False, False, 0.3, None)
    assert third.track_id.tolist() == [0]


def test_instance_dicts_are_plain_json():
    instances = _persons((0, 0))
    instances.bbox_scores = np.array([0.5], np.float32)
    instances.track_id = np.array([3])
    instances.keypoint_peaks = np.array([[0.25, 0.123456]], np.float32)
    instances.input_absent = np.array([[False, True]])
    instances.keypoints_refined = np.array([[True, True]])
    [d] = instance_dicts(instances)
    d = json.loads(json.dumps(d, allow_nan=False))
    assert d['keypoints'] == [[0.0, 0.0], [20.0, 40.0]]
    assert d['bbox'] == [[0.0, 0.0, 20.0, 40.0]]  # MMPose's (box, )
    assert (d['bbox_score'], d['track_id']) == (0.5, 3)
    assert d['keypoint_peaks'] == [0.25, 0.1235]
    assert (d['input_absent'], d['keypoints_refined']) == ([1], [0, 1])


def test_tracks_by_oks_with_the_keypoint_sigmas():
    sigmas = np.full(2, 0.1)
    state = {}
    first = _persons((0, 0), (100, 0))
    track_instances(first, state, True, True, 0.3, sigmas)
    second = _persons((100, 1), (0, 1))
    track_instances(second, state, True, True, 0.3, sigmas)
    assert second.track_id.tolist() == [1, 0]


def test_instance_dicts_of_a_bare_instance():
    instances = InstanceData(
        keypoints=np.zeros((1, 2, 2), np.float32),
        keypoint_scores=np.ones((1, 2), np.float32))
    assert instance_dicts(instances) == [
        dict(keypoints=[[0.0, 0.0], [0.0, 0.0]], keypoint_scores=[1.0, 1.0])
    ]
