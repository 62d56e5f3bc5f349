from .checkpoint import (CheckpointError, apply_checkpoint, load_weights,
                         read_checkpoint)
from .compat import MissingCompiledOpError, apply as apply_compat
from .config import merge_cfg_options, missing_results_files
from .io import dump_json_atomic, write_atomic
from .messages import few

__all__ = [
    'CheckpointError', 'MissingCompiledOpError', 'apply_checkpoint',
    'apply_compat', 'dump_json_atomic', 'few', 'load_weights',
    'merge_cfg_options', 'missing_results_files', 'read_checkpoint',
    'write_atomic'
]
