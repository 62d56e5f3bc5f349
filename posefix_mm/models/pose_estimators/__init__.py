from .pose_refiner import PoseRefiner
from .posefix_estimator import PoseFixEstimator

__all__ = ['PoseFixEstimator', 'PoseRefiner']
