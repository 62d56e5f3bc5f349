"""The sampling helpers of SynthesizePoseErrors on arrays built here."""
import numpy as np
import pytest

from posefix_mm.datasets.transforms.error_sampling import fill_unlabeled

RESULTS = dict(
    bbox=np.array([[10., 20., 110., 220.]]),
    pred_keypoints=np.array([[[1., 2.], [3., 4.], [5., 6.]]]),
    pred_keypoints_visible=np.array([[1., 0., 1.]]))
POINTS = np.array([[50., 60.], [0., 0.], [0., 0.]])
HAS_POINT = np.array([True, False, False])
BOX_U = np.array([[0.5, 0.25], [0.5, 0.5], [0.0, 1.0]])


def test_omit_leaves_unlabeled_joints_absent():
    points, visible = fill_unlabeled(RESULTS, 'omit', POINTS, HAS_POINT,
                                     BOX_U)
    np.testing.assert_array_equal(points, POINTS)
    np.testing.assert_array_equal(visible, [1, 0, 0])


def test_box_places_them_uniformly_in_the_box():
    points, visible = fill_unlabeled(RESULTS, 'box', POINTS, HAS_POINT,
                                     BOX_U)
    np.testing.assert_allclose(points, [[50, 60], [60, 120], [10, 220]])
    np.testing.assert_array_equal(visible, [1, 1, 1])


@pytest.mark.parametrize('with_prediction', [True, False])
def test_prediction_where_present_else_the_box(with_prediction):
    results = RESULTS if with_prediction else dict(bbox=RESULTS['bbox'])
    points, _ = fill_unlabeled(results, 'prediction', POINTS, HAS_POINT,
                               BOX_U)
    # joint 1's prediction is absent: the box point; joint 2's is used
    expected = [[50, 60], [60, 120], [5, 6]] if with_prediction else \
        [[50, 60], [60, 120], [10, 220]]
    np.testing.assert_allclose(points, expected)
