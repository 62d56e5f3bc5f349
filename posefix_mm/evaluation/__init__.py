from .coco_keypoint_eval import (STATS_NAMES, cocoeval_keypoints,
                                 format_ap_table)
from .error_analysis import analyze, compare, label_keypoints, match
from .fit_error_tables import ErrorTableFitter
from .input_pose_coco_metric import InputPoseCocoMetric
from .pose_error_metric import PoseErrorMetric

__all__ = [
    'STATS_NAMES', 'cocoeval_keypoints', 'format_ap_table', 'analyze',
    'compare', 'label_keypoints', 'match', 'ErrorTableFitter',
    'InputPoseCocoMetric', 'PoseErrorMetric'
]
