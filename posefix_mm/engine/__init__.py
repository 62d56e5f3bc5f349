from .refine import (Refined, image_shards, pose_samples, refine_pipeline,
                     refine_samples)

__all__ = [
    'Refined', 'image_shards', 'pose_samples', 'refine_pipeline',
    'refine_samples'
]
