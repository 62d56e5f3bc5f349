from .blazepose_checks import (TFLITE_SHA256, check_sha256,
                               litert_difference)
from .blazepose_tflite import (convert, heatmap_convs, read_tflite,
                               save_converted)

__all__ = [
    'TFLITE_SHA256', 'check_sha256', 'convert', 'heatmap_convs',
    'litert_difference', 'read_tflite', 'save_converted'
]
