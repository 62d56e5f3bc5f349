import json
import os.path as osp
from collections import Counter

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from posefix_mm.utils.keypoint_similarity import keypoint_similarity


def test_samples_carry_every_other_person(coco_mini_train, coco_mini):
    with open(osp.join(coco_mini,
                       'annotations/person_keypoints_train2017.json')) as f:
        anns = json.load(f)['annotations']
    persons = Counter(a['image_id'] for a in anns if not a['iscrowd'])
    assert len(coco_mini_train) == 139
    for i in range(len(coco_mini_train)):
        info = coco_mini_train[i]
        m = persons[info['img_id']] - 1
        assert info['other_keypoints'].shape == (m, 17, 2)
        assert info['other_keypoints_visible'].shape == (m, 17)
        assert info['other_bboxes'].shape == (m, 4)
        # the sample itself is not among the others
        same = np.all(info['other_keypoints'] == info['keypoints'], (1, 2))
        assert not np.any(same & (info['keypoints'].max() > 0))
        np.testing.assert_allclose(info['sigmas'][0], 0.026)
        assert len(info['flip_indices']) == 17
        assert 'upper_body_ids' in info and 'lower_body_ids' in info


def test_predictions_file_matches_by_oks(coco_mini):
    dataset = DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root=coco_mini,
            ann_file='annotations/person_keypoints_val2017.json',
            data_prefix=dict(img='val2017/'),
            predictions_file=osp.join(
                coco_mini, 'predictions/blazepose_full_val2017.json'),
            pipeline=[]))
    matched = [
        dataset[i] for i in range(len(dataset))
        if 'pred_keypoints' in dataset[i]
    ]
    assert 20 < len(matched) <= 75
    for info in matched:
        vis = info['keypoints_visible'][0] > 0
        d2 = ((info['pred_keypoints'][0] - info['keypoints'][0])**2).sum(-1)
        ks = keypoint_similarity(d2, info['area'], info['sigmas'])
        assert ks[vis].mean() >= 0.1


def _write_gt(coco_mini, tmp_path, change):
    with open(osp.join(coco_mini,
                       'annotations/person_keypoints_train2017.json')) as f:
        gt = json.load(f)
    change(gt['annotations'])
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt))
    return str(path)


def _build(coco_mini, ann_file):
    init_default_scope('mmpose')
    return DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root='',
            ann_file=ann_file,
            data_prefix=dict(img=osp.join(coco_mini, 'train2017')),
            pipeline=[]))


def _persons(anns):
    return [a for a in anns if a['num_keypoints'] > 0 and not a['iscrowd']]


def test_dropped_persons_are_counted_with_their_reason(
        coco_mini, tmp_path, monkeypatch):
    import logging

    from posefix_mm.datasets import posefix_coco_dataset

    def damage(anns):
        persons = _persons(anns)
        persons[0]['bbox'][2] = 0  # zero-area box
        persons[1]['bbox'][3] = -5  # negative box
        persons[2]['num_keypoints'] = 0  # says none, has some

    path = _write_gt(coco_mini, tmp_path, damage)
    logged = []
    monkeypatch.setattr(posefix_coco_dataset, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw['level'])))
    dataset = _build(coco_mini, path)
    assert len(dataset) == 139 - 3
    [(message, level)] = [m for m in logged if path in m[0]]  # once
    assert level == logging.WARNING
    assert '136 of 259 annotations are persons trained on' in message
    assert '2 with a zero-area or negative box' in message
    assert '1 whose num_keypoints contradicts its keypoints' in message


@pytest.mark.parametrize('name, change, message', [
    ('short list', lambda a: _persons(a)[0].update(keypoints=[1, 2, 2]),
     'must be 51 numbers'),
    ('a string', lambda a: _persons(a)[1]['keypoints'].__setitem__(3, 'x'),
     'must be 51 numbers'),
])
def test_malformed_keypoints_refuse_the_file(coco_mini, tmp_path, name,
                                             change, message):
    path = _write_gt(coco_mini, tmp_path, change)
    with pytest.raises(ValueError, match=f'{path}: annotation id .*'
                       f'{message}'):
        _build(coco_mini, path)


def test_truncated_annotation_file_named(coco_mini, tmp_path):
    path = tmp_path / 'gt.json'
    with open(osp.join(coco_mini,
                       'annotations/person_keypoints_train2017.json')) as f:
        path.write_text(f.read()[:5000])
    with pytest.raises(ValueError, match=f'{path}: not a COCO annotation'):
        _build(coco_mini, str(path))


def test_the_evaluation_split_is_not_called_training(coco_mini, monkeypatch):
    from posefix_mm.datasets import posefix_coco_dataset
    logged = []
    monkeypatch.setattr(posefix_coco_dataset, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    init_default_scope('mmpose')
    DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root=coco_mini,
            ann_file='annotations/person_keypoints_val2017.json',
            data_prefix=dict(img='val2017/'),
            test_mode=True,
            pipeline=[]))
    [message] = [m for m in logged if 'val2017' in m]
    assert '120 of 197 annotations are persons evaluated' in message
