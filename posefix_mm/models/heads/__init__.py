from .joint_decision import JointDecision
from .posefix_head import PoseFixHead

__all__ = ['JointDecision', 'PoseFixHead']
