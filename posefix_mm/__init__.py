"""posefix_mm: PoseFix (Moon et al., CVPR 2019) as an MMPose plugin.

Importing the package applies the environment fixes of
:mod:`posefix_mm.utils.compat`, registers every component into MMPose's
registries (scope ``mmpose``) and answers two notices of MMPose that say
nothing to a user (:mod:`posefix_mm.utils.mmpose_notices`).
"""
from .utils.compat import apply as _apply_compat

_apply_compat()

from . import codecs, datasets, engine, evaluation, models  # noqa: E402,F401
from .utils.mmpose_notices import apply as _quiet_notices  # noqa: E402
from .version import __version__  # noqa: E402

_quiet_notices()

__all__ = ['__version__']
