"""Refinement pictures: the refined joints drawn whatever the 2D model's
scores, kept joints by ``kpt_thr``, the legend, the per-person panels."""
import numpy as np
import pytest
from mmengine.structures import InstanceData
from mmpose.visualization import PoseLocalVisualizer

from posefix_mm.visualization import (draw_refinement, drawing_scores,
                                      person_panels)
from posefix_mm.visualization.refine_pictures import MOVE_COLOR
from ..synthetic import coco_meta, person

LEGEND_ROWS = 30  # the legend strip's height, at most


@pytest.fixture(scope='module')
def visualizer():
    visualizer = PoseLocalVisualizer(
        name='test-refine-pictures', radius=3, line_width=1)
    visualizer.set_dataset_meta(
        coco_meta())
    return visualizer


def _instances(refined: bool, score: float = 0.15) -> InstanceData:
    """One person refined 5 px to the right of its 2D pose, every joint
    scored ``score`` by the 2D model (which MMPose's models also write as
    ``keypoints_visible``)."""
    inputs = person(40, 40)[None]
    return InstanceData(
        keypoints=inputs + np.array([5., 0.]),
        input_keypoints=inputs,
        keypoint_scores=np.full((1, 17), score, np.float32),
        keypoints_visible=np.full((1, 17), score, np.float32),
        keypoints_refined=np.full((1, 17), refined))


def _drawn(picture, image) -> int:
    """Pixels the drawing changed below the legend strip."""
    return int((picture[LEGEND_ROWS:] != image[LEGEND_ROWS:]).any(-1).sum())


def test_refined_joints_drawn_whatever_the_2d_scores(visualizer):
    image = np.zeros((300, 200, 3), np.uint8)
    refined = draw_refinement(visualizer, image, _instances(True))
    kept = draw_refinement(visualizer, image, _instances(False))
    # 17 joints (a disc of radius 3: ~29 px each), limbs and arrows
    assert _drawn(refined, image) > 17 * 25
    # kept joints scored 0.15 < kpt_thr 0.3: nothing but the legend
    assert _drawn(kept, image) == 0
    assert (kept[:LEGEND_ROWS] != 0).any()  # the legend
    # kept joints scored above kpt_thr are drawn
    assert _drawn(draw_refinement(visualizer, image, _instances(False, 0.9)),
                  image) > 17 * 25
    assert refined.shape == image.shape


def test_drawing_scores():
    instances = _instances(True)
    instances.keypoints_refined[0, :5] = False
    scores = drawing_scores(instances)
    np.testing.assert_allclose(scores[0, :5], 0.15)
    np.testing.assert_allclose(scores[0, 5:], 1.0)
    del instances.keypoints_refined
    np.testing.assert_allclose(drawing_scores(instances), 0.15)


def test_openpose_style_and_no_legend(visualizer):
    image = np.zeros((300, 200, 3), np.uint8)
    mmpose_style = draw_refinement(visualizer, image, _instances(True),
                                   show_legend=False)
    openpose_visualizer = PoseLocalVisualizer(
        name='test-refine-pictures-openpose', radius=3, line_width=1)
    openpose_visualizer.set_dataset_meta(
        coco_meta(), 'openpose')
    openpose = draw_refinement(openpose_visualizer, image, _instances(True),
                               skeleton_style='openpose', show_legend=False)
    assert (mmpose_style[:LEGEND_ROWS] == 0).all()
    assert _drawn(openpose, image) > 17 * 25
    assert (openpose != mmpose_style).any()


def test_person_panels(visualizer):
    image = np.full((300, 200, 3), 40, np.uint8)
    inputs = person(40, 40)
    present = np.ones(17, bool)
    present[3] = False
    panels = person_panels(visualizer, image, inputs, inputs + 4, present,
                           inputs, np.ones(17, bool), 'a title', height=128)
    # on top: the title, the legend of the colours, the panels' names,
    # each a strip of its own
    header = panels.shape[0] - 128
    assert 3 * 12 <= header <= 3 * 40 and panels.shape[2] == 3
    assert (panels[:header] > 200).any()  # white text
    left, right = np.split(panels[header:, :panels.shape[1] // 2 * 2], 2, 1)
    assert (left != 40).any() and (right != 40).any()
    # the arrows (magenta) are on the refined side only
    magenta = np.all(panels[header:] == MOVE_COLOR, -1)
    half = panels.shape[1] // 2
    assert magenta[:, half:].sum() > 20 and not magenta[:, :half].any()
