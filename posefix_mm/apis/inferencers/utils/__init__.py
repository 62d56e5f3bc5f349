from .inputs import (WHOLE_IMAGE_NOTICE, MissingWeights, UnreadableImage,
                     as_bgr, check_bboxes, check_folder, check_inputs,
                     check_video, local_file, media_type)
from .instances import instance_dicts
from .pose2d import (LocalPose2DInferencer, mmpose_config, model_aliases,
                     resolve_pose2d)
from .tracking import track_instances

__all__ = [
    'WHOLE_IMAGE_NOTICE', 'LocalPose2DInferencer', 'MissingWeights',
    'UnreadableImage', 'as_bgr', 'check_bboxes', 'check_folder',
    'check_inputs', 'check_video', 'instance_dicts', 'local_file',
    'media_type', 'mmpose_config', 'model_aliases', 'resolve_pose2d',
    'track_instances'
]
