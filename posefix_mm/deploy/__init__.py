from .onnx_export import RefinerGraph, check_against_torch, export_onnx
from .onnx_refiner import OnnxRefiner, import_onnxruntime, read_settings

__all__ = [
    'OnnxRefiner', 'RefinerGraph', 'check_against_torch', 'export_onnx',
    'import_onnxruntime', 'read_settings'
]
