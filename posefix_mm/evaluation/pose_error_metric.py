"""The keypoint error taxonomy inside MMEngine evaluation."""
import json
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.utils.error_taxonomy import ERROR_TYPES
from .error_analysis import analyze


@METRICS.register_module()
class PoseErrorMetric(BaseMetric):
    """Fractions of good / jitter / inversion / swap / miss keypoints (see
    :mod:`posefix_mm.evaluation.error_analysis`) of the predictions, and of
    the input pose when the predictions carry one (PoseFixEstimator,
    PoseRefiner): ``errors/jitter``, ``errors/input_jitter``, ...

    Args:
        ann_file (str): COCO keypoint annotations of the evaluated split.
    """
    default_prefix = 'errors'

    def __init__(self,
                 ann_file: str,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        # one record per data sample: MMEngine's evaluate(size) keeps `size`
        for sample in data_samples:
            pred = sample['pred_instances']
            scores = np.asarray(pred.get('bbox_scores',
                                         np.ones(len(pred['keypoints']))))
            record = {}
            for key in ('keypoints', 'input_keypoints'):
                if key in pred:
                    record[key] = [
                        coco_entry(sample['img_id'], kpts, score=score)
                        for kpts, score in zip(np.asarray(pred[key]), scores)
                    ]
            self.results.append(record)

    def compute_metrics(self, results: list) -> dict:
        with open(self.ann_file) as f:
            gt = json.load(f)
        metrics = {}
        for key, name in (('keypoints', ''), ('input_keypoints', 'input_')):
            chosen = [r for record in results for r in record.get(key, [])]
            if not chosen:
                continue
            report = analyze(gt, chosen, self.dataset_meta['sigmas'],
                             self.dataset_meta['flip_indices'])
            for kind in ERROR_TYPES:
                metrics[f'{name}{kind}'] = report['fractions'][kind]
        return metrics
