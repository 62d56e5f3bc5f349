from .refine_pictures import draw_refinement, person_panels

__all__ = ['draw_refinement', 'person_panels']
