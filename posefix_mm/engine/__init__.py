from .refine import (image_shards, pose_samples, read_image, refine_pipeline,
                     refine_samples)
from .refined import (SCORE_MODES, Refined, coco_result, input_results,
                      keypoint_scores, skip_message, to_coco_results,
                      write_back)

__all__ = [
    'Refined', 'SCORE_MODES', 'coco_result', 'image_shards', 'input_results',
    'keypoint_scores', 'pose_samples', 'read_image', 'refine_pipeline',
    'refine_samples', 'skip_message', 'to_coco_results', 'write_back'
]
