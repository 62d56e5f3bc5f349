from .posefix_coco_dataset import PoseFixCocoDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['PoseFixCocoDataset']
