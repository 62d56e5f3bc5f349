from .coco_results import (ResultsFormatError, keypoint_box,
                           load_coco_results)
from .posefix_coco_dataset import PoseFixCocoDataset
from .posefix_results_dataset import PoseFixResultsDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'PoseFixCocoDataset', 'PoseFixResultsDataset', 'ResultsFormatError',
    'keypoint_box', 'load_coco_results'
]
