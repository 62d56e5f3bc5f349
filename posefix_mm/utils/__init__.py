from .checkpoint import (CheckpointError, apply_checkpoint, load_weights,
                         read_checkpoint)
from .compat import MissingCompiledOpError, apply as apply_compat

__all__ = [
    'CheckpointError', 'MissingCompiledOpError', 'apply_checkpoint',
    'apply_compat', 'load_weights', 'read_checkpoint'
]
