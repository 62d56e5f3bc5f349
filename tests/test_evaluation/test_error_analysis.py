"""Error taxonomy on hand-built scenes: every type placed deliberately."""
import numpy as np
import pytest

from posefix_mm.evaluation.error_analysis import (analyze, compare,
                                                  label_keypoints, match)
from posefix_mm.utils.error_taxonomy import (ERROR_TYPES, GOOD, INVERSION,
                                             JITTER, MISS, NO_GT, SWAP)
from posefix_mm.utils.keypoint_similarity import ks_distance

SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
AREA = 10000.


def person(offset_x, ann_id, visible=None):
    """17 joints on a 100 px grid: far apart at this area's KS scale."""
    grid = np.array([[100. * (k % 5), 100. * (k // 5)] for k in range(17)])
    kpts = grid + [offset_x, 0]
    vis = np.ones(17, bool) if visible is None else visible
    flat = np.concatenate([kpts, 2 * vis[:, None]], 1).ravel().tolist()
    return dict(
        id=ann_id, image_id=1, category_id=1, iscrowd=0, area=AREA,
        num_keypoints=int(vis.sum()), keypoints=flat)


def as_person(ann):
    kpts = np.asarray(ann['keypoints']).reshape(-1, 3)
    return dict(id=ann['id'], keypoints=kpts[:, :2], visible=kpts[:, 2] > 0,
                area=ann['area'])


A, B = person(0., 1), person(2000., 2)


def d(k, joint):
    return ks_distance(k, AREA, SIGMAS)[joint]


def test_each_type_and_ks_edges():
    a, b = as_person(A), as_person(B)
    det = a['keypoints'].copy()
    det[1] += [d(0.85, 1) * (1 - 1e-9), 0]  # just inside KS 0.85: good
    det[2] += [d(0.85, 2) * (1 + 1e-9), 0]  # just outside: jitter
    det[3] += [0, d(0.5, 3) * (1 - 1e-9)]  # just inside KS 0.5: jitter
    det[4] += [0, d(0.5, 4) * (1 + 1e-9)]  # just outside: miss
    det[7] = a['keypoints'][8]  # on its mirror joint: inversion
    det[9] = b['keypoints'][9]  # on the other person's joint: swap
    det[10] = b['keypoints'][9]  # on the other person's mirror joint: swap
    det[11] = a['keypoints'][12] + [d(0.5, 12) * 0.5, 0]  # near its mirror
    det[13] = [5000., 5000.]  # nowhere: miss
    det[0] = a['keypoints'][1]  # the nose has no mirror: a far miss
    labels = label_keypoints(det, a, [b], SIGMAS, FLIP)
    expected = {
        1: GOOD, 2: JITTER, 3: JITTER, 4: MISS, 5: GOOD, 7: INVERSION,
        9: SWAP, 10: SWAP, 11: INVERSION, 13: MISS, 0: MISS
    }
    for joint, kind in expected.items():
        assert labels[joint] == kind, (joint, ERROR_TYPES[labels[joint]])


def test_inversion_wins_over_swap_and_invisible_joints_get_no_label():
    vis = np.ones(17, bool)
    vis[15] = False
    a = as_person(person(0., 1, vis))
    b = as_person(person(0., 2))  # same place: every mirror is also a swap
    det = a['keypoints'].copy()
    det[5] = a['keypoints'][6]
    det[16] = a['keypoints'][15]  # mirror 15 is not labelled: no inversion
    labels = label_keypoints(det, a, [b], SIGMAS, FLIP)
    assert labels[5] == INVERSION
    assert labels[15] == NO_GT
    assert labels[16] == SWAP  # b's joint 15 is labelled


def _result(kpts, score, image_id=1):
    flat = np.concatenate([kpts, np.ones((17, 1))], 1).ravel().tolist()
    return dict(image_id=image_id, category_id=1, keypoints=flat, score=score)


def test_greedy_matching_by_score():
    gt = dict(annotations=[A, B])
    a, b = as_person(A)['keypoints'], as_person(B)['keypoints']
    results = [
        _result(a + 3, 0.5),  # good for A, but lower score
        _result(a + 1, 0.9),  # best for A, takes it first
        _result(b, 0.7),
        _result(a + 5000, 0.8),  # far from everyone: unmatched
    ]
    m = match(gt, results, SIGMAS)
    pairs = {i: p for i, _, p, _ in m['pairs']}
    assert pairs == {1: 0, 2: 1}
    assert m['unmatched_results'] == [0, 3]
    assert m['unmatched_persons'] == []


def test_report_fractions_and_identity_transitions():
    gt = dict(annotations=[A, B])
    a = as_person(A)['keypoints'].copy()
    a[7] = as_person(A)['keypoints'][8]
    results = [_result(a, 0.9), _result(as_person(B)['keypoints'], 0.8)]
    report = analyze(gt, results, SIGMAS, FLIP)
    assert sum(report['fractions'].values()) == pytest.approx(1)
    assert report['counts']['inversion'] == 1
    assert report['counts']['good'] == 33
    assert report['matched'] == 2
    for joint in report['per_joint'].values():
        assert sum(joint['fractions'].values()) == pytest.approx(1)
    same = compare(report, analyze(gt, results, SIGMAS, FLIP))
    matrix = np.array(same['transitions'])
    assert matrix.sum() == 34
    assert np.array_equal(matrix, np.diag(np.diag(matrix)))
    assert all(x == y for x, y in same['oks_pairs'].values())


def test_pose_error_metric_reports_input_and_refined(tmp_path):
    import json
    from mmpose.registry import METRICS
    ann = tmp_path / 'gt.json'
    ann.write_text(json.dumps(dict(annotations=[A, B])))
    metric = METRICS.build(dict(type='PoseErrorMetric', ann_file=str(ann)))
    metric.dataset_meta = dict(sigmas=SIGMAS, flip_indices=FLIP)
    a = as_person(A)['keypoints']
    moved = a.copy()
    moved[7] = a[8]  # an inversion in the refined pose only
    metric.process([], [
        dict(img_id=1, pred_instances=dict(
            keypoints=moved[None], input_keypoints=a[None],
            bbox_scores=np.ones(1)))
    ])
    result = metric.evaluate(1)
    assert result['errors/input_good'] == pytest.approx(1)
    assert result['errors/inversion'] == pytest.approx(1 / 17)
