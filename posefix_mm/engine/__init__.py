from .pose_refiner import PoseRefiner
from .refine import (image_shards, pose_samples, read_image, refine_pipeline,
                     refine_samples)
from .refined import (NOT_REFINED, SCORE_MODES, Refined, coco_result,
                      input_results, keypoint_scores, refined_fields,
                      replace_entries, skip_message, to_coco_results,
                      write_back)

__all__ = [
    'NOT_REFINED', 'PoseRefiner', 'Refined', 'SCORE_MODES', 'coco_result',
    'image_shards', 'input_results', 'keypoint_scores', 'pose_samples',
    'read_image', 'refine_pipeline', 'refine_samples', 'refined_fields',
    'replace_entries', 'skip_message', 'to_coco_results', 'write_back'
]
