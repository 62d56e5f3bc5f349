import numpy as np
import pytest
from mmpose.registry import KEYPOINT_CODECS

CASES = [
    ('integer', [[10., 20.]]),
    ('fractional', [[10.3, 20.7]]),
    ('last row/col', [[95.0, 127.0]]),
    ('several', [[0., 0.], [33.3, 3.9], [71.9, 101.1]]),
]


@pytest.fixture
def codec():
    return KEYPOINT_CODECS.build(
        dict(type='PoseFixLabel', input_size=(96, 128), heatmap_size=(24, 32)))


@pytest.mark.parametrize('name, kpts', CASES, ids=[c[0] for c in CASES])
def test_bilinear_target_sums_to_one_and_centres_on_gt(codec, name, kpts):
    kpts = np.array([kpts], np.float32) * np.array([0.25, 0.25])
    encoded = codec.encode(kpts)
    hm = encoded['heatmaps']
    assert hm.shape == (kpts.shape[1], 32, 24), name
    ys, xs = np.mgrid[:32, :24]
    for k in range(kpts.shape[1]):
        np.testing.assert_allclose(hm[k].sum(), 1, rtol=1e-6, err_msg=name)
        expectation = [(hm[k] * xs).sum(), (hm[k] * ys).sum()]
        np.testing.assert_allclose(
            expectation, encoded['keypoint_labels'][0, k], atol=1e-5,
            err_msg=name)
        assert (hm[k] > 0).sum() <= 4, name


@pytest.mark.parametrize('name, kpts', CASES, ids=[c[0] for c in CASES])
def test_round_trip(codec, name, kpts):
    kpts = np.array([kpts], np.float32)
    encoded = codec.encode(kpts)
    decoded, scores = codec.decode(encoded['keypoint_labels'])
    np.testing.assert_allclose(decoded, kpts, atol=1e-4, err_msg=name)
    assert scores.shape == kpts.shape[:2]


def test_invisible_and_outside_joints_get_no_target(codec):
    kpts = np.array([[[10., 10.], [-4., 10.], [10., 200.], [20., 20.]]])
    visible = np.array([[1, 1, 1, 0]], np.float32)
    encoded = codec.encode(kpts, visible)
    np.testing.assert_array_equal(encoded['keypoint_weights'], [[1, 0, 0, 0]])
    assert encoded['heatmaps'][1:].sum() == 0
