"""refine_samples' loading: one decode per image whatever the order of the
samples, unreadable images counted batch by batch; image-wise shards."""
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from posefix_mm.apis import init_refiner
from posefix_mm.engine import refine as engine
from posefix_mm.engine.refine import (_PreparedSamples, image_shards,
                                      refine_pipeline, refine_samples)
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


def runs(paths: list) -> int:
    """How many runs of one image the paths make."""
    return 1 + sum(a != b for a, b in zip(paths, paths[1:]))


def counting_reads(monkeypatch) -> list:
    reads = []

    def counted(path):
        reads.append(path)
        return mmcv.imread(path)

    monkeypatch.setattr(engine, 'read_image', counted)
    return reads


def test_kept_image_is_never_written_to(blazepose_infos, pipeline,
                                        monkeypatch):
    reads = counting_reads(monkeypatch)
    prepared = _PreparedSamples(blazepose_infos,
                                list(range(len(blazepose_infos))), pipeline)
    paths = [info['img_path'] for info in blazepose_infos]
    assert runs(paths) < len(paths)  # the file has several persons per image
    crops = [prepared[i][2]['inputs'].numpy() for i in range(len(paths))]
    assert len(reads) == runs(paths)
    # each crop is what a fresh read gives
    for info, crop in zip(blazepose_infos, crops):
        fresh = pipeline(dict(info, img=mmcv.imread(info['img_path'])))
        np.testing.assert_array_equal(crop, fresh['inputs'].numpy())


def test_each_image_decoded_once_in_any_order(blazepose_infos, pipeline,
                                              monkeypatch):
    """Persons of one image scattered over the samples (a results file
    sorted by score, not by image): each image is still read once, and the
    outputs come back in the samples' order, as refined in file order."""
    init_default_scope('mmpose')
    model = init_refiner(CONFIG, None, 'cpu')
    in_order, _ = refine_samples(
        model, blazepose_infos, pipeline, batch_size=8, progress=False)
    shuffled = [
        blazepose_infos[i]
        for i in np.random.default_rng(0).permutation(len(blazepose_infos))
    ]
    paths = [info['img_path'] for info in shuffled]
    assert runs(paths) > len(set(paths))
    reads = counting_reads(monkeypatch)
    outputs, skipped = refine_samples(
        model, shuffled, pipeline, batch_size=8, progress=False)
    assert sorted(reads) == sorted(set(paths))
    assert not skipped
    assert [o.info['id'] for o in outputs] == [i['id'] for i in shuffled]
    by_id = {o.info['id']: o for o in in_order}
    for output in outputs:
        np.testing.assert_allclose(
            output.keypoints, by_id[output.info['id']].keypoints, atol=1e-4)


def test_image_shards_keep_images_whole_and_balance_counts():
    # images a, b, c, d, e with 5, 2, 3, 2, 1 persons, scattered
    keys = list('abacbadacaecd')
    shards = image_shards(keys, 3)
    assert sorted(i for shard in shards for i in shard) == list(
        range(len(keys)))
    assert all(shard == sorted(shard) for shard in shards)
    images = [{keys[i] for i in shard} for shard in shards]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not images[a] & images[b]
    # largest first, each to the lightest shard: a | c, e | b, d
    assert [len(shard) for shard in shards] == [5, 4, 4]
    assert image_shards(keys, 3) == shards
    assert image_shards(keys, 1) == [list(range(len(keys)))]
    assert image_shards(['a'], 2) == [[0], []]


class NoModel:
    """Never called: no image can be read."""


def missing_images(infos: list) -> list:
    return [
        dict(info, img_path=info['img_path'] + '.missing') for info in infos
    ]


def test_batches_without_a_readable_image_are_counted(blazepose_infos,
                                                      pipeline):
    outputs, skipped = refine_samples(
        NoModel(), missing_images(blazepose_infos[:5]), pipeline,
        batch_size=2, progress=False)
    assert outputs == []
    assert skipped == {'unreadable image': 5}


def test_no_more_workers_than_batches(blazepose_infos, pipeline,
                                      monkeypatch):
    started = []

    class Recorded(engine.DataLoader):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self.num_workers)

    monkeypatch.setattr(engine, 'DataLoader', Recorded)
    missing = missing_images(blazepose_infos[:5])
    for workers in (8, 2):
        _, skipped = refine_samples(
            NoModel(), missing, pipeline, batch_size=2, progress=False,
            num_workers=workers)
        # the workers' batches are all counted
        assert skipped == {'unreadable image': 5}
    assert started == [3, 2]  # 5 samples in batches of 2


def test_pose_far_out_gives_no_sample():
    """A pose at 1e9 (no box at float32 precision) stays unrefined; the
    other poses of the image are refined."""
    from posefix_mm.engine.refine import pose_samples
    near = np.stack([np.linspace(100, 200, 17), np.linspace(50, 300, 17)], 1)
    keypoints = np.stack([near, np.full((17, 2), 1e9), near + 10])
    meta = dict(flip_indices=list(range(17)), sigmas=np.full(17, 0.05))
    samples = pose_samples(keypoints, np.ones((3, 17)), meta,
                           img_path='image.jpg')
    assert [s['instance_index'] for s in samples] == [0, 2]
