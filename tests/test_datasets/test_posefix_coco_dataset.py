import json
import os.path as osp
from collections import Counter

import numpy as np
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
