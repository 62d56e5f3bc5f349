"""The error-taxonomy plots and the synthesis figure, on the small COCO set
of tests/synthetic.py."""
import json

import cv2
import numpy as np

from posefix_mm.datasets.transforms import SynthesizePoseErrors
from posefix_mm.evaluation.error_analysis import analyze, compare
from posefix_mm.utils.error_taxonomy import ERROR_TYPES
from posefix_mm.visualization.error_plots import (plot_oks, plot_per_joint,
                                                  plot_types)
from posefix_mm.visualization.synthesis_figure import synthesis_figure
from ..synthetic import coco_dataset, coco_meta, results_of, write_coco


def _png(path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, path
    return img


def test_error_plots(tmp_path, monkeypatch):
    # the figures as drawn, kept when the plots close them
    import matplotlib.pyplot as plt
    figures = []
    monkeypatch.setattr(plt, 'close', figures.append)
    data = write_coco(tmp_path)
    gt = json.load(open(data['ann']))
    meta = coco_meta()
    names = gt['categories'][0]['keypoints']
    reports = {
        name: analyze(gt, results_of(data, noise=noise, seed=1),
                      meta['sigmas'], meta['flip_indices'], names)
        for name, noise in (('input', 6.0), ('refined', 1.0))
    }
    # the refined poses are nearer the truth: more "good" joints
    assert reports['refined']['fractions']['good'] > \
        reports['input']['fractions']['good']
    plot_types(reports, tmp_path / 'types.png')
    plot_per_joint(reports, tmp_path / 'per_joint.png')
    pairs = compare(reports['input'], reports['refined'])['oks_pairs']
    assert len(pairs) == len(gt['annotations'])
    plot_oks(pairs, tmp_path / 'oks.png')
    for name in ('types', 'per_joint', 'oks'):
        assert _png(tmp_path / f'{name}.png').shape[0] > 200
    types, per_joint, oks = figures
    # the bars are the reports' fractions, input then refined, in %
    heights = [b.get_height() for b in types.axes[0].patches]
    expected = [
        100 * reports[r]['fractions'][t] for r in ('input', 'refined')
        for t in ERROR_TYPES
    ]
    np.testing.assert_allclose(heights, expected)
    # per joint: stacked to 100% for each joint with a labelled keypoint
    for ax, name in zip(per_joint.axes, ('input', 'refined')):
        joints = reports[name]['per_joint']
        bars = np.array([b.get_height() for b in ax.patches]).reshape(
            len(ERROR_TYPES), len(joints))
        np.testing.assert_allclose(bars.sum(0), 100)
        np.testing.assert_allclose(
            bars[0], [100 * joints[j]['fractions']['good'] for j in joints])
    # one point per person, at its OKS before and after
    points = np.concatenate(
        [c.get_offsets() for c in oks.axes[0].collections])
    np.testing.assert_allclose(
        sorted(map(tuple, points)), sorted(pairs.values()))


def data_keypoints(folder) -> list:
    """The ground-truth keypoints of write_coco's set in ``folder``."""
    with open(folder / 'annotations.json') as f:
        coco = json.load(f)
    return [
        np.asarray(a['keypoints'], np.float64).reshape(-1, 3)[:, :2]
        for a in coco['annotations']
    ]


def test_synthesis_figure(tmp_path):
    dataset = coco_dataset(write_coco(tmp_path))
    fig = synthesis_figure(dataset, SynthesizePoseErrors(seed=0), num=4,
                           draws=3)
    # 4 persons, ground truth | input each: 8 panels
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 8
    gt_points = {
        tuple(np.round(p, 3))
        for kpts in data_keypoints(tmp_path) for p in kpts
    }
    for ax_gt, ax_in in zip(panels[::2], panels[1::2]):
        # the same image; the GT panel's joints are ground-truth joints,
        # the input panel's the synthesized ones: they differ
        np.testing.assert_array_equal(ax_gt.images[0].get_array(),
                                      ax_in.images[0].get_array())
        shown_gt = ax_gt.collections[0].get_offsets()
        assert {tuple(np.round(p, 3)) for p in shown_gt} <= gt_points
        shown_in = ax_in.collections[0].get_offsets()
        assert len(shown_in) == len(shown_gt) == 17
        assert np.abs(np.asarray(shown_in) - np.asarray(shown_gt)).max() > 0
    fig.savefig(tmp_path / 'synthesis.png', dpi=50)
    assert _png(tmp_path / 'synthesis.png').shape[0] > 100
