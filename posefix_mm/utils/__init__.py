from .compat import MissingCompiledOpError, apply as apply_compat

__all__ = ['MissingCompiledOpError', 'apply_compat']
