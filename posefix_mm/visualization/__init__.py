from .refine_pictures import (VIS_HEIGHT, draw_refinement, drawing_scores,
                              legend, person_panels, write_pictures)

__all__ = [
    'VIS_HEIGHT', 'draw_refinement', 'drawing_scores', 'legend',
    'person_panels', 'write_pictures'
]
