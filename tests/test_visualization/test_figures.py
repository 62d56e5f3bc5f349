"""The error-taxonomy plots and the synthesis figure, on the small COCO set
of tests/synthetic.py."""
import json

import cv2
import numpy as np

from posefix_mm.datasets.transforms import SynthesizePoseErrors
from posefix_mm.evaluation.error_analysis import analyze, compare
from posefix_mm.visualization.error_plots import (plot_oks, plot_per_joint,
                                                  plot_types)
from posefix_mm.visualization.synthesis_figure import synthesis_figure
from ..synthetic import coco_dataset, coco_meta, results_of, write_coco


def _png(path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, path
    return img


def test_error_plots(tmp_path):
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
        img = _png(tmp_path / f'{name}.png')
        assert img.shape[0] > 200 and img.std() > 10  # drawn, not blank


def test_synthesis_figure(tmp_path):
    dataset = coco_dataset(write_coco(tmp_path))
    fig = synthesis_figure(dataset, SynthesizePoseErrors(seed=0), num=4,
                           draws=3)
    # 4 persons, ground truth | input each: 8 panels
    assert len([ax for ax in fig.axes if ax.images]) == 8
    fig.savefig(tmp_path / 'synthesis.png', dpi=50)
    assert _png(tmp_path / 'synthesis.png').std() > 10
