"""Dataset metainfo files named where MMPose ships them."""
import os.path as osp

import mmpose


def mmpose_dataset_info(name: str) -> dict:
    """A ``METAINFO`` that names MMPose's own copy of a dataset info file
    (``configs/_base_/datasets/NAME`` inside the installed package) by its
    full path. MMPose's classes name it relative to MMPose's source tree,
    which warns on every run from anywhere else; a source checkout of
    MMPose without the packaged copy keeps that relative path."""
    relative = osp.join('configs', '_base_', 'datasets', name)
    packaged = osp.join(osp.dirname(mmpose.__file__), '.mim', relative)
    return dict(from_file=packaged if osp.isfile(packaged) else relative)
