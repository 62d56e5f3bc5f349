from .input_pose_coco_metric import InputPoseCocoMetric

__all__ = ['InputPoseCocoMetric']
