from .pose_heatmaps import (read_input_pose, render_gaussian_heatmaps,
                            soft_argmax, unflip_coordinates)

__all__ = [
    'read_input_pose', 'render_gaussian_heatmaps', 'soft_argmax',
    'unflip_coordinates'
]
