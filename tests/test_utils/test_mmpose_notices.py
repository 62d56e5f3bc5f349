"""MMPose's notices that say nothing to a user are answered at their source;
other notices still come through."""
import warnings

from mmengine.registry import FUNCTIONS, init_default_scope
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from posefix_mm.utils import mmpose_notices


def test_functions_resolve_under_the_mmpose_scope():
    mmpose_notices.add_function_registry()
    mmpose_notices.add_function_registry()  # twice: one child
    init_default_scope('mmpose')
    root = FUNCTIONS._get_root_registry()
    # what MMEngine looks up before warning "Failed to search registry"
    assert root._search_child('mmpose') is FUNCTIONS.children['mmpose']
    from mmengine.dataset import pseudo_collate
    with FUNCTIONS.switch_scope_and_registry('mmpose') as registry:
        assert registry.get('pseudo_collate') is pseudo_collate


def test_only_mmposes_own_metainfo_copy_is_quiet():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        mmpose_notices.ignore_packaged_metainfo_notice()
        meta = parse_pose_metainfo(
            dict(from_file='configs/_base_/datasets/coco.py'))
        warnings.warn('The metainfo config file "configs/_base_/datasets/'
                      'coco.py" does not exist. A matched config file '
                      '"/elsewhere/coco.py" will be used instead.')
    assert meta['num_keypoints'] == 17
    assert [str(w.message) for w in caught] == [
        'The metainfo config file "configs/_base_/datasets/coco.py" does '
        'not exist. A matched config file "/elsewhere/coco.py" will be used '
        'instead.'
    ]
