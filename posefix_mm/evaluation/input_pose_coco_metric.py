"""COCO keypoint AP of the *input* pose of a refiner, computed exactly as for
its output, so input and refined AP can be reported side by side."""
from mmpose.evaluation.metrics import CocoMetric
from mmpose.registry import METRICS


@METRICS.register_module()
class InputPoseCocoMetric(CocoMetric):
    """``CocoMetric`` on ``pred_instances.input_keypoints`` (the pose the
    refiner was given, in image coordinates) instead of
    ``pred_instances.keypoints``, with the input's joint scores
    (``input_keypoint_scores``, where the refiner wrote them:
    ``PoseRefiner``; else the prediction's), so that it reports the pose
    model's own AP. Boxes and areas are those of the prediction.

    Use it next to a ``CocoMetric`` in ``val_evaluator`` / ``test_evaluator``;
    its results are prefixed ``coco-input`` (``coco-input/AP``, ...).
    """
    default_prefix = 'coco-input'

    def process(self, data_batch, data_samples) -> None:
        swapped = []
        for data_sample in data_samples:
            pred = dict(data_sample['pred_instances'])
            if 'input_keypoints' not in pred:
                raise ValueError(
                    'InputPoseCocoMetric needs pred_instances.input_keypoints'
                    ' (from PoseFixEstimator or PoseRefiner)')
            pred['keypoints'] = pred['input_keypoints']
            if 'input_keypoint_scores' in pred:
                pred['keypoint_scores'] = pred['input_keypoint_scores']
            swapped.append(dict(data_sample, pred_instances=pred))
        super().process(data_batch, swapped)
