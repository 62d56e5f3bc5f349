from .refine_pictures import (draw_refinement, drawing_scores, legend,
                              person_panels)

__all__ = ['draw_refinement', 'drawing_scores', 'legend', 'person_panels']
