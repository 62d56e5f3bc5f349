from posefix_mm.engine import (Refined, image_shards, input_results,
                               pose_samples, refine_pipeline, refine_samples,
                               to_coco_results)
from posefix_mm.utils import dump_json_atomic
from .inference import init_refiner
from .inferencers import RefineInferencer
from .refine_file import RefinedFile, RefineFileError, refine_results_file

__all__ = [
    'RefineInferencer', 'Refined', 'RefinedFile', 'RefineFileError',
    'dump_json_atomic', 'image_shards', 'init_refiner', 'input_results',
    'pose_samples', 'refine_pipeline', 'refine_results_file',
    'refine_samples', 'to_coco_results'
]
