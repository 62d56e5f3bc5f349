from .coco_keypoint_eval import (STATS_NAMES, coco_keypoint_eval,
                                 format_ap_table)
from .input_pose_coco_metric import InputPoseCocoMetric

__all__ = [
    'STATS_NAMES', 'coco_keypoint_eval', 'format_ap_table',
    'InputPoseCocoMetric'
]
