"""posefix_mm: PoseFix (Moon et al., CVPR 2019) as an MMPose plugin.

Importing the package applies the environment fixes of
:mod:`posefix_mm.utils.compat` and registers every component into MMPose's
registries (scope ``mmpose``).
"""
from .utils.compat import apply as _apply_compat

_apply_compat()

from . import codecs, datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
