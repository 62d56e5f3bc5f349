from .posefix_head import PoseFixHead

__all__ = ['PoseFixHead']
