"""The inferencer's predictions as plain JSON types."""
from typing import List

import numpy as np
from mmengine.structures import InstanceData

from posefix_mm.engine import refined_fields


def instance_dicts(instances: InstanceData) -> List[dict]:
    """MMPose's per-instance dicts (as ``split_instances``), with plain
    Python numbers only (JSON-serialisable), plus the refined fields a
    results entry holds, by the same serialiser
    (:func:`~posefix_mm.engine.refined_fields`)."""
    results = []
    for i in range(len(instances.keypoints)):
        result = dict(
            keypoints=np.asarray(instances.keypoints[i]).tolist(),
            keypoint_scores=np.asarray(
                instances.keypoint_scores[i]).tolist())
        if 'bboxes' in instances:
            result['bbox'] = (np.asarray(instances.bboxes[i]).tolist(), )
            if 'bbox_scores' in instances:
                result['bbox_score'] = float(instances.bbox_scores[i])
        if 'track_id' in instances:
            result['track_id'] = int(instances.track_id[i])
        if 'keypoint_peaks' in instances:
            probs = instances.get('keypoint_refine_probs')
            result.update(
                refined_fields(
                    instances.keypoint_peaks[i], instances.input_absent[i],
                    instances.keypoints_refined[i],
                    None if probs is None else probs[i]))
        results.append(result)
    return results
