from .posefix_estimator import PoseFixEstimator

__all__ = ['PoseFixEstimator']
