from .posefix_label import PoseFixLabel, bilinear_one_hot

__all__ = ['PoseFixLabel', 'bilinear_one_hot']
