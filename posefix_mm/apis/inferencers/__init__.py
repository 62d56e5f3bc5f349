from .base_refine_inferencer import BaseRefineInferencer
from .refine_inferencer import RefineInferencer

__all__ = ['BaseRefineInferencer', 'RefineInferencer']
