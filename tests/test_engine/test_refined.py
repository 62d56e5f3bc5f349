"""The refine contract's rules on hand-made refined poses (no model)."""
from collections import Counter

import numpy as np
import pytest

from posefix_mm.engine import (Refined, coco_result, input_results,
                               keypoint_scores, skip_message, to_coco_results,
                               write_back)
from posefix_mm.engine.refined import instance_score

K = 4


def _refined(instance_index=0, present=(1, 1, 0, 1), kept=(0, 1, 0, 0),
             probs=(0.8, 0.2, 1.0, 0.6), id=0) -> Refined:
    inputs = np.arange(K * 2, dtype=np.float32).reshape(K, 2) + 10
    info = dict(
        id=id,
        img_id=7,
        instance_index=instance_index,
        bbox_score=np.array([0.5], np.float32),
        input_keypoints=inputs[None],
        input_keypoints_visible=np.array([present], np.float32),
        input_keypoint_scores=np.array([0.9, 0.8, 0.0, 0.7], np.float32))
    keypoints = inputs + 3
    keypoints[np.asarray(kept, bool)] = inputs[np.asarray(kept, bool)]
    return Refined(info, keypoints,
                   np.array([0.1, 0.2, 0.3, 0.4], np.float32),
                   None if probs is None else np.asarray(probs, np.float32),
                   np.asarray(kept, bool))


def test_scores_input_for_present_peak_for_absent():
    refined = _refined()
    np.testing.assert_allclose(keypoint_scores(refined),
                               [0.9, 0.8, 0.3, 0.7])
    np.testing.assert_allclose(keypoint_scores(refined, 'heatmap'),
                               [0.1, 0.2, 0.3, 0.4])
    assert instance_score(refined) == 0.5
    assert instance_score(refined, 'heatmap') == pytest.approx(0.5 * 0.25)
    with pytest.raises(ValueError, match='keypoint_score'):
        keypoint_scores(refined, 'ones')


def test_refined_joints_are_all_but_the_kept_ones():
    # the model's mask (present joints only, made once where the poses are
    # made): the refined joints are its complement
    refined = _refined(kept=(0, 1, 0, 1))
    np.testing.assert_array_equal(refined.refined_joints,
                                  [True, False, True, False])
    assert _refined(kept=(0, 0, 0, 0)).refined_joints.all()
    assert _refined()._replace(kept=None).refined_joints.all()


def test_coco_result_fields():
    entry = coco_result(_refined())
    assert entry['image_id'] == 7 and entry['score'] == 0.5
    triplets = np.asarray(entry['keypoints']).reshape(K, 3)
    np.testing.assert_allclose(triplets[:, 2], [0.9, 0.8, 0.3, 0.7],
                               atol=1e-6)
    np.testing.assert_allclose(triplets[1, :2], [12, 13])  # kept: input
    assert entry['input_absent'] == [2]
    assert entry['keypoint_peaks'] == [0.1, 0.2, 0.3, 0.4]
    assert entry['keypoint_refine_probs'] == [0.8, 0.2, 1.0, 0.6]
    assert 'keypoint_refine_probs' not in coco_result(_refined(probs=None))


def test_results_in_id_order_and_inputs_alike():
    outputs = [_refined(id=2), _refined(id=0), _refined(id=1)]
    outputs[1] = outputs[1]._replace(info=dict(outputs[1].info, img_id=3))
    assert [e['image_id'] for e in to_coco_results(outputs)] == [3, 7, 7]
    inputs = input_results(outputs)
    assert [e['image_id'] for e in inputs] == [3, 7, 7]
    np.testing.assert_allclose(
        np.asarray(inputs[0]['keypoints']).reshape(K, 3)[:, :2],
        outputs[1].input_keypoints)


def test_write_back_refines_the_given_poses_only():
    keypoints = np.zeros((3, K, 2), np.float32) + 5
    keypoints[2] = 0  # no present joint: never refined
    scores = np.full((3, K), 0.6, np.float32)
    scores[0, 3] = 0.05
    fields = write_back(keypoints, scores, [_refined(instance_index=1)],
                        absent_score_thr=0.1)
    refined = _refined(instance_index=1)
    np.testing.assert_array_equal(fields['keypoints'][1], refined.keypoints)
    np.testing.assert_array_equal(fields['keypoints'][[0, 2]],
                                  keypoints[[0, 2]])
    np.testing.assert_array_equal(fields['input_keypoints'], keypoints)
    np.testing.assert_allclose(fields['keypoint_scores'][1],
                               keypoint_scores(refined))
    np.testing.assert_array_equal(fields['keypoint_scores'][0], scores[0])
    np.testing.assert_array_equal(fields['keypoint_refine_probs'][[0, 2]], 0)
    np.testing.assert_array_equal(fields['keypoint_peaks'][0], 0)
    # absent by the rule for every pose, refined or not
    np.testing.assert_array_equal(fields['input_absent'][0],
                                  [False, False, False, True])
    assert fields['input_absent'][2].all()
    np.testing.assert_array_equal(fields['keypoints_refined'][1],
                                  refined.refined_joints)
    assert not fields['keypoints_refined'][[0, 2]].any()
    assert 'keypoint_refine_probs' not in write_back(
        keypoints, scores, [_refined(instance_index=1, probs=None)])


def test_write_back_of_no_pose():
    fields = write_back(np.zeros((0, K, 2)), np.zeros((0, K)), [])
    assert fields['keypoints'].shape == (0, K, 2)
    assert fields['input_absent'].shape == (0, K)


def test_skip_message():
    assert skip_message(Counter()) == ''
    message = skip_message(
        Counter({'unreadable image': 2, 'image file missing': 4}),
        missing=['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'])
    assert message.splitlines() == [
        '6 poses not refined:', '  2 x unreadable image',
        '  4 x image file missing', '    missing: a.jpg, b.jpg, c.jpg '
        'and 1 more'
    ]


def test_a_refined_file_replaces_its_input_entry_for_entry():
    from posefix_mm.engine import replace_entries
    entries = [
        dict(image_id=i, category_id=1, keypoints=[1.0] * 51, score=0.9)
        for i in range(4)
    ]
    entries[2]['bbox'] = [1.0, 2.0, float('nan'), float('inf')]
    refined = {0: dict(image_id=0, refined=True),
               3: dict(image_id=3, refined=True)}
    reasons = {1: 'unreadable image', 2: 'bbox not finite or without area'}
    out = replace_entries(entries, refined, reasons)
    assert [o['image_id'] for o in out] == [0, 1, 2, 3]
    assert out[0] is refined[0] and out[3] is refined[3]
    assert out[1] == dict(entries[1], not_refined='unreadable image')
    # strict JSON: what cannot be written becomes null
    assert out[2]['bbox'] == [1.0, 2.0, None, None]
    assert out[2]['not_refined'] == 'bbox not finite or without area'
    # an entry never vanishes without a reason
    with pytest.raises(ValueError, match='entry 2 is neither'):
        replace_entries(entries, refined, {1: 'unreadable image'})


def test_results_entry_and_inferencer_json_write_the_same_fields():
    """One serialiser: a results file's entry and RefineInferencer's JSON of
    the same refined pose hold the same refined fields, rounded alike."""
    from mmengine.structures import InstanceData

    from posefix_mm.apis.inferencers.utils import instance_dicts
    refined = _refined(instance_index=0)
    entry = coco_result(refined)
    # joint 2, scored 0, absent by the rule as in the sample
    fields = write_back(refined.input_keypoints[None],
                        refined.info['input_keypoint_scores'][None],
                        [refined], absent_score_thr=0.0)
    [json_instance] = instance_dicts(InstanceData(**fields))
    names = ('keypoint_peaks', 'keypoint_refine_probs', 'input_absent',
             'keypoints_refined')
    assert {n: entry[n] for n in names} == {
        n: json_instance[n] for n in names
    }
    # joint 1 kept at its input point, joint 2 absent (placed)
    assert entry['keypoints_refined'] == [0, 2, 3]
    assert entry['input_absent'] == [2]
