"""refine_samples' loading: one decode per image, unreadable images counted
batch by batch."""
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from posefix_mm.models.pose_estimators import pose_refiner
from posefix_mm.models.pose_estimators.pose_refiner import (_PreparedSamples,
                                                            refine_pipeline,
                                                            refine_samples)
from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')


@pytest.fixture(scope='module')
def blazepose_infos(blazepose_results):
    return [blazepose_results.get_data_info(i) for i in range(24)]


@pytest.fixture(scope='module')
def pipeline():
    init_default_scope('mmpose')
    return Compose(refine_pipeline(Config.fromfile(CONFIG)))


def test_persons_of_one_image_decode_it_once(blazepose_infos, pipeline,
                                             monkeypatch):
    reads = []

    def counted(path):
        reads.append(path)
        return mmcv.imread(path)

    monkeypatch.setattr(pose_refiner, 'read_image', counted)
    prepared = _PreparedSamples(blazepose_infos, pipeline)
    paths = [info['img_path'] for info in blazepose_infos]
    runs = 1 + sum(a != b for a, b in zip(paths, paths[1:]))
    assert runs < len(paths)  # the file has several persons per image
    crops = [prepared[i][1]['inputs'].numpy() for i in range(len(paths))]
    assert len(reads) == runs
    # the kept image is never written to: each crop is what a fresh read
    # gives
    for info, crop in zip(blazepose_infos, crops):
        fresh = pipeline(dict(info, img=mmcv.imread(info['img_path'])))
        np.testing.assert_array_equal(crop, fresh['inputs'].numpy())


def test_batches_without_a_readable_image_are_counted(blazepose_infos,
                                                      pipeline):

    class NoModel:
        """Never called: no image can be read."""

    missing = [
        dict(info, img_path=info['img_path'] + '.missing')
        for info in blazepose_infos[:5]
    ]
    outputs, skipped = refine_samples(
        NoModel(), missing, pipeline, batch_size=2, progress=False)
    assert outputs == []
    assert skipped == {'unreadable image': 5}
