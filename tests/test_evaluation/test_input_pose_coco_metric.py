import json

import numpy as np
from mmpose.registry import METRICS

from ..synthetic import write_coco


def _samples(ann, noise):
    with open(ann) as f:
        anns = [
            a for a in json.load(f)['annotations']
            if a['num_keypoints'] > 0 and not a['iscrowd']
        ]
    rng = np.random.default_rng(0)
    samples = []
    for a in anns:
        gt = np.array(a['keypoints'], np.float32).reshape(1, 17, 3)[..., :2]
        x, y, w, h = a['bbox']
        samples.append(
            dict(
                id=a['id'],
                img_id=a['image_id'],
                category_id=1,
                gt_instances=dict(bbox_scales=np.array([[w, h]]) * 1.25),
                pred_instances=dict(
                    keypoints=gt + rng.normal(0, noise, gt.shape),
                    input_keypoints=gt.copy(),
                    keypoint_scores=np.ones((1, 17)),
                    bboxes=np.array([[x, y, x + w, y + h]]),
                    bbox_scores=np.ones(1))))
    return samples


def test_input_metric_scores_the_input_pose(tmp_path):
    ann = write_coco(tmp_path, num_images=4)['ann']
    metrics = {}
    for name in ('CocoMetric', 'InputPoseCocoMetric'):
        metric = METRICS.build(
            dict(type=name, ann_file=ann,
                 outfile_prefix=str(tmp_path / name)))
        metric.dataset_meta = dict(
            dataset_name='coco',
            num_keypoints=17,
            sigmas=np.array([
                .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07,
                1.07, .87, .87, .89, .89
            ]) / 10)
        metric.process([], _samples(ann, noise=15.))
        metrics.update(metric.evaluate(len(metric.results)))
    # the input is the ground truth itself; the "refined" pose is noisy
    assert metrics['coco-input/AP'] > 0.99
    assert metrics['coco/AP'] < 0.9
