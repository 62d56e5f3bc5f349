from .pose_refiner import PoseRefiner
from .posefix_estimator import PoseFixEstimator, gate_joints

__all__ = ['PoseFixEstimator', 'PoseRefiner', 'gate_joints']
