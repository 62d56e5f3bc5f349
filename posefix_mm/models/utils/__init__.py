from .pose_heatmaps import (flip_input_pose, pose_maps_conv,
                            read_input_pose, read_input_scores,
                            render_gaussian_heatmaps, soft_argmax,
                            unflip_coordinates)

__all__ = [
    'flip_input_pose', 'pose_maps_conv', 'read_input_pose',
    'read_input_scores', 'render_gaussian_heatmaps', 'soft_argmax',
    'unflip_coordinates'
]
