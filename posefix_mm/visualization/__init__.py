from .side_by_side import draw_poses, side_by_side

__all__ = ['draw_poses', 'side_by_side']
