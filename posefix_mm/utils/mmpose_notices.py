"""Two notices of the 2024 MMPose on every run that tell a user nothing,
answered where they arise:

- MMPose 1.3 has no ``function`` registry, so every lookup of a function
  under the scope ``mmpose`` (the ``collate_fn`` of each dataloader and
  inferencer) warns "Failed to search registry with scope "mmpose" ..." and
  then uses MMEngine's. :func:`add_function_registry` adds the missing
  child registry; it holds nothing, so lookups go to MMEngine's as before.
- A dataset whose config names its keypoint metainfo relative to MMPose's
  source tree (``configs/_base_/datasets/coco.py``, as MMPose's own configs
  and the combined datasets of ours do) warns that the file does not exist
  and that MMPose's packaged copy is used instead:
  :func:`ignore_packaged_metainfo_notice` ignores that notice when the copy
  is MMPose's own (any other substitution still warns).
"""
import re
import warnings

_PACKAGED_METAINFO = (
    r'The metainfo config file "configs/_base_/datasets/[^"]+" does not '
    r'exist\. A matched config file "[^"]*' + re.escape('/mmpose/.mim/') +
    r'configs/_base_/datasets/[^"]+" will be used instead\.')


def add_function_registry() -> None:
    from mmengine.registry import FUNCTIONS, Registry
    if 'mmpose' not in FUNCTIONS.children:
        Registry('function', parent=FUNCTIONS, scope='mmpose')


def ignore_packaged_metainfo_notice() -> None:
    warnings.filterwarnings(
        'ignore', message=_PACKAGED_METAINFO, category=UserWarning)


def apply() -> None:
    add_function_registry()
    ignore_packaged_metainfo_notice()
