from posefix_mm.engine import (Refined, image_shards, input_results,
                               pose_samples, refine_pipeline, refine_samples,
                               to_coco_results)
from posefix_mm.utils import dump_json_atomic
from .inference import init_refiner
from .refine_inferencer import RefineInferencer

__all__ = [
    'RefineInferencer', 'Refined', 'dump_json_atomic', 'image_shards',
    'init_refiner', 'input_results', 'pose_samples', 'refine_pipeline',
    'refine_samples', 'to_coco_results'
]
