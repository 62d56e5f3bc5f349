"""Track ids of refined poses across a video's frames."""
from typing import Optional

import numpy as np
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample


def track_instances(pred: InstanceData, state: dict, video: bool,
                    use_oks: bool, thr: float,
                    sigmas: Optional[np.ndarray]) -> None:
    """Set ``pred.track_id``: each instance matched to the last frame's
    (kept in ``state``) with MMPose's greedy matching
    (``mmpose.apis.inference_tracking``, as its ``Pose3DInferencer``
    tracks): by box IoU, or by OKS with ``use_oks``; above ``thr`` the same
    id, else a new one. Not a ``video``: a fresh start (each image of a list
    or folder on its own)."""
    from mmpose.apis.inference_tracking import _track_by_iou, _track_by_oks
    if not video:
        state.pop('tracked_last', None)
        state.pop('next_id', None)
    last = state.get('tracked_last', [])
    if 'bboxes' not in pred:
        pred.bboxes = np.concatenate(
            [pred.keypoints.min(1), pred.keypoints.max(1)], 1)
    singles, ids = [], np.empty(len(pred), np.int64)
    for i in range(len(pred)):
        single = PoseDataSample(pred_instances=pred[i])
        box = np.asarray(pred.bboxes[i], np.float64)
        single.pred_instances.areas = np.array(
            [(box[2] - box[0]) * (box[3] - box[1])])
        if use_oks:
            track_id, last, _ = _track_by_oks(single, last, thr, sigmas)
        else:
            track_id, last, _ = _track_by_iou(single, last, thr)
        if track_id == -1:
            track_id = state.get('next_id', 0)
            state['next_id'] = track_id + 1
        ids[i] = track_id
        single.track_id = int(track_id)
        singles.append(single)
    state['tracked_last'] = singles
    pred.track_id = ids
