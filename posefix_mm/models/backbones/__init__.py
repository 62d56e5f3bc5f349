from .blazepose import BLAZEPOSE_TO_COCO, BlazePoseBackbone

__all__ = ['BLAZEPOSE_TO_COCO', 'BlazePoseBackbone']
