from posefix_mm.engine import (Refined, image_shards, pose_samples,
                               refine_pipeline, refine_samples)
from .refine_inferencer import RefineInferencer
from .refine_results import (dump_json_atomic, init_refiner, input_results,
                             to_coco_results)

__all__ = [
    'RefineInferencer', 'Refined', 'dump_json_atomic', 'image_shards',
    'init_refiner', 'input_results', 'pose_samples', 'refine_pipeline',
    'refine_samples', 'to_coco_results'
]
