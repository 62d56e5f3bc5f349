from .refine_inferencer import RefineInferencer
from .refine_results import (Refined, dump_json_atomic, init_refiner,
                             input_results, refine_samples, test_pipeline,
                             to_coco_results)

__all__ = [
    'RefineInferencer', 'Refined', 'dump_json_atomic', 'init_refiner',
    'input_results', 'refine_samples', 'test_pipeline', 'to_coco_results'
]
