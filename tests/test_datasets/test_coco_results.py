"""Absent joints and given boxes: the one rule every refinement path uses
(present_joints, input_box), and PoseFixResultsDataset on a real results
file with a third of its joints removed."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from posefix_mm.datasets import PoseFixResultsDataset
from posefix_mm.datasets.coco_results import (UnusableEntry, input_box,
                                              input_pose_sample,
                                              present_joints)


def test_absent_joints_are_exact_zeros_or_low_scores():
    kpts = np.array([[0, 0], [0, 5], [3, 0], [2, 2], [0, 0]], np.float32)
    scores = np.array([0.9, 0.0, 0.2, 0.05, 0.0])
    np.testing.assert_array_equal(
        present_joints(kpts, scores), [False, True, True, True, False])
    np.testing.assert_array_equal(
        present_joints(kpts, scores, absent_score_thr=0.05),
        [False, False, True, False, False])


KPTS = np.array([[10, 20], [30, 60], [0, 0]], np.float32)
PRESENT = np.array([True, True, False])
# the present joints span x 10..30, y 20..60: centre (20, 40), x1.2
KPT_BOX = [8, 16, 32, 64]


@pytest.mark.parametrize(
    'case, bbox, source, expected',
    [
        ('auto without bbox: keypoints', None, 'auto', KPT_BOX),
        ('auto with bbox: bbox', [0, 0, 50, 40], 'auto', [0, 0, 50, 40]),
        ('keypoints ignores bbox', [0, 0, 50, 40], 'keypoints', KPT_BOX),
        ('bbox', [5, 5, 10, 10], 'bbox', [5, 5, 15, 15]),
        ('union', [0, 30, 50, 10], 'union', [0, 16, 50, 64]),
        ('union without bbox', None, 'union', KPT_BOX),
    ])
def test_input_box_sources(case, bbox, source, expected):
    box = input_box(KPTS, PRESENT, bbox, source)
    np.testing.assert_allclose(box, expected, err_msg=case)


@pytest.mark.parametrize(
    'case, kpts, bbox, source',
    [
        ('bbox with inf', KPTS, [0, 0, float('inf'), 10], 'auto'),
        ('bbox with nan', KPTS, [0, float('nan'), 10, 10], 'union'),
        ('bbox without area', KPTS, [0, 0, 0, 10], 'bbox'),
        ('no bbox for bbox source', KPTS, None, 'bbox'),
        ('no present joint', np.zeros((3, 2)), None, 'auto'),
    ])
def test_unusable_boxes(case, kpts, bbox, source):
    with pytest.raises(UnusableEntry):
        input_box(kpts, present_joints(kpts), bbox, source)


def test_absent_joint_gets_no_input_channel_and_never_pulls_box():
    far = KPTS.copy()
    far[2] = 0  # at the image corner: must not stretch the box to it
    sample = input_pose_sample(far, np.array([0.9, 0.8, 0.7]))
    np.testing.assert_array_equal(sample['input_keypoints_visible'],
                                  [[1, 1, 0]])
    np.testing.assert_allclose(sample['bbox'][0], KPT_BOX)


@pytest.fixture(scope='module')
def damaged_blazepose(coco_mini, tmp_path_factory):
    """The BlazePose val results with a third of their joints, chosen at
    random (seed 0), set to (0, 0, 0) as estimators write a missed joint."""
    with open(osp.join(coco_mini,
                       'predictions/blazepose_full_val2017.json')) as f:
        results = json.load(f)
    rng = np.random.default_rng(0)
    for entry in results:
        kpts = np.asarray(entry['keypoints'], np.float64).reshape(-1, 3)
        drop = rng.choice(len(kpts), len(kpts) // 3, replace=False)
        kpts[drop] = 0
        entry['keypoints'] = kpts.ravel().tolist()
    path = tmp_path_factory.mktemp('damaged') / 'damaged.json'
    path.write_text(json.dumps(results))
    return str(path), results


def test_damaged_results_crops_come_from_remaining_joints(
        coco_mini, damaged_blazepose):
    init_default_scope('mmpose')
    path, results = damaged_blazepose
    dataset = PoseFixResultsDataset.from_files(
        path,
        osp.join(coco_mini, 'val2017'),
        pipeline=[dict(type='GetBBoxCenterScale')])
    assert len(dataset) == len(results)
    for i in range(len(dataset)):
        sample = dataset[i]
        kpts = np.asarray(results[sample['id']]['keypoints']).reshape(-1, 3)
        kept = kpts[(kpts[:, :2] != 0).any(1), :2]
        # the official test box, computed here from the kept joints alone
        lo, hi = kept.min(0), kept.max(0)
        size = np.maximum((hi - lo) * 1.2, 20)
        np.testing.assert_allclose(sample['bbox_center'][0], (lo + hi) / 2,
                                   rtol=1e-5, err_msg=f'entry {i}')
        np.testing.assert_allclose(sample['bbox_scale'][0], size * 1.25,
                                   rtol=1e-5, err_msg=f'entry {i}')
        np.testing.assert_array_equal(
            sample['input_keypoints_visible'][0] > 0,
            (kpts[:, :2] != 0).any(1))


def test_dataset_metainfo_without_warning(coco_mini, recwarn):
    """Our datasets name MMPose's packaged COCO metainfo by its full path:
    no "metainfo config file does not exist" warning on every run."""
    from posefix_mm.datasets import PoseFixCocoDataset
    for cls in (PoseFixResultsDataset, PoseFixCocoDataset):
        assert osp.isfile(cls.METAINFO['from_file'])
    PoseFixResultsDataset.from_files(
        osp.join(coco_mini, 'predictions', 'blazepose_full_val2017.json'),
        osp.join(coco_mini, 'val2017'))
    assert not [w for w in recwarn if 'metainfo config file' in str(w.message)]
