"""SynthesizePoseErrors on real coco_mini training persons."""
import copy
from collections import Counter

import numpy as np
import pytest
from mmengine.config import Config
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import TRANSFORMS

from posefix_mm.datasets.transforms import (COCO_ERROR_TABLES,
                                            joint_type_probabilities)
from posefix_mm.utils.error_taxonomy import (ERROR_TYPES, GOOD, INVERSION,
                                             JITTER, MISS, NO_GT, SWAP)
from posefix_mm.utils.keypoint_similarity import keypoint_similarity

DRAWS = 12


def _iou(a, b):
    iw = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _scene(info):
    """Overlapping persons and the KS area, computed independently."""
    box = info['bbox'][0]
    keep = [
        m for m in range(len(info['other_bboxes']))
        if _iou(box, info['other_bboxes'][m]) >= 0.1
    ]
    area = (box[2] - box[0]) * (box[3] - box[1])
    return keep, area


def _anchors(info, j, keep):
    """(own, mirror or None, [other persons' j and j'])."""
    gt, vis = info['keypoints'][0], info['keypoints_visible'][0] > 0
    jm = info['flip_indices'][j]
    mirror = gt[jm] if (jm != j and vis[jm]
                        and np.any(gt[jm] != gt[j])) else None
    others = []
    for m in keep:
        for jj in {j, jm}:
            if info['other_keypoints_visible'][m][jj] > 0:
                others.append(info['other_keypoints'][m][jj])
    return gt[j], mirror, others


def _check_rule(point, kind, info, j, keep, area):
    """Independent, joint-by-joint check of the rule of each type."""
    own, mirror, others = _anchors(info, j, keep)
    sigma = info['sigmas'][j]

    def ks(a):
        return float(
            keypoint_similarity(np.sum((point - a)**2), area, sigma))

    def d(a):
        return float(np.linalg.norm(point - a))

    rivals_of_own = ([mirror] if mirror is not None else []) + others
    if kind in (GOOD, JITTER):
        assert all(d(own) < d(a) for a in rivals_of_own)
        if kind == GOOD:
            assert ks(own) > 0.85
        else:
            assert 0.5 < ks(own) <= 0.85 + 1e-9
    elif kind == INVERSION:
        assert mirror is not None
        assert ks(mirror) > 0.5
        assert all(d(mirror) < d(a) for a in [own] + others)
    elif kind == SWAP:
        assert others
        nearest_other = min(d(a) for a in others)
        assert max(ks(a) for a in others) > 0.5
        assert nearest_other < d(own)
        assert mirror is None or nearest_other < d(mirror)
    elif kind == MISS:
        anchors = [own] + rivals_of_own
        assert all(ks(a) <= 0.5 + 1e-9 for a in anchors)
        # within d_0.1 of the anchor it was drawn around
        assert max(ks(a) for a in anchors) > 0.1 - 1e-9
    else:
        raise AssertionError(f'unexpected type {kind}')


@pytest.fixture(scope='module')
def draws(coco_mini_train):
    """DRAWS synthesized input poses for each of the 139 training persons."""
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    np.random.seed(0)
    infos = [coco_mini_train[i] for i in range(len(coco_mini_train))]
    return [(info, transform(copy.deepcopy(info))) for info in infos
            for _ in range(DRAWS)]


def test_every_point_satisfies_its_rule(draws):
    checked = Counter()
    for info, out in draws:
        keep, area = _scene(info)
        vis = info['keypoints_visible'][0] > 0
        for j, kind in enumerate(out['synth_error_types'][0]):
            if not vis[j]:
                assert kind == NO_GT
                continue
            try:
                _check_rule(out['input_keypoints'][0, j], kind, info, j, keep,
                            area)
            except AssertionError as e:
                raise AssertionError(
                    f'{ERROR_TYPES[kind]} joint {j} of ann {info["id"]}: '
                    f'{e}') from e
            checked[kind] += 1
    # every type occurred and was checked
    assert all(checked[t] > 0 for t in range(5)), checked


def _expected_probs(info, keep):
    """Table probabilities renormalised over the types a joint can take."""
    vis = info['keypoints_visible'][0] > 0
    probs = joint_type_probabilities(COCO_ERROR_TABLES, int(vis.sum()),
                                     len(keep))
    for j in range(17):
        _, mirror, others = _anchors(info, j, keep)
        if mirror is None:
            probs[j, INVERSION] = 0
        if not others:
            probs[j, SWAP] = 0
    return probs / probs.sum(1, keepdims=True), vis


GROUPS = dict(
    face=range(0, 5), upper=range(5, 11), lower=range(11, 17), all=range(17))


@pytest.mark.parametrize('group', list(GROUPS))
def test_type_frequencies_match_tables(draws, group):
    joints = list(GROUPS[group])
    observed = np.zeros(5)
    expected = np.zeros(5)
    variance = np.zeros(5)
    for info, out in draws:
        keep, _ = _scene(info)
        probs, vis = _expected_probs(info, keep)
        for j in joints:
            if vis[j]:
                observed[out['synth_error_types'][0, j]] += 1
                expected += probs[j]
                variance += probs[j] * (1 - probs[j])
    # each count is a sum of independent Bernoullis: allow 4 standard
    # deviations (two-sided false-alarm rate ~6e-5 per type)
    tolerance = 4 * np.sqrt(variance) + 1
    assert np.all(np.abs(observed - expected) <= tolerance), (
        group, dict(zip(ERROR_TYPES, observed)),
        dict(zip(ERROR_TYPES, expected.round(1))))


def test_same_seed_same_output(coco_mini_train):
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    info = coco_mini_train[5]
    outs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outs.append(transform(copy.deepcopy(info)))
    for key in ('input_keypoints', 'input_keypoints_visible',
                'synth_error_types'):
        np.testing.assert_array_equal(outs[0][key], outs[1][key])
    assert not np.array_equal(outs[0]['input_keypoints'],
                              outs[2]['input_keypoints'])


def test_mmengine_seed_reproducible(coco_mini_train):
    from mmengine.runner import set_random_seed
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    info = coco_mini_train[7]
    outs = []
    for _ in range(2):
        set_random_seed(42)
        outs.append(transform(copy.deepcopy(info))['input_keypoints'])
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize('policy', ['box', 'omit', 'prediction'])
def test_unlabeled_joints(coco_mini_train, policy):
    transform = TRANSFORMS.build(
        dict(type='SynthesizePoseErrors', unlabeled=policy))
    info = next(
        coco_mini_train[i] for i in range(len(coco_mini_train))
        if (coco_mini_train[i]['keypoints_visible'] == 0).any())
    unlabeled = info['keypoints_visible'][0] == 0
    if policy == 'prediction':
        info['pred_keypoints'] = info['keypoints'] + 1000.
        info['pred_keypoints_visible'] = np.ones((1, 17), np.float32)
    out = transform(copy.deepcopy(info))
    assert np.all(out['synth_error_types'][0, unlabeled] == NO_GT)
    pts = out['input_keypoints'][0, unlabeled]
    vis = out['input_keypoints_visible'][0, unlabeled]
    if policy == 'omit':
        assert np.all(vis == 0)
    elif policy == 'box':
        x1, y1, x2, y2 = info['bbox'][0]
        assert np.all(vis == 1)
        assert np.all((pts >= [x1, y1]) & (pts <= [x2, y2]))
    else:
        np.testing.assert_allclose(pts,
                                   info['pred_keypoints'][0, unlabeled])


def _crowdpose_sample(rng):
    meta = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/crowdpose.py'))
    k = meta['num_keypoints']
    assert k == 14
    base = rng.uniform(100, 300, (k, 2))
    return dict(
        keypoints=base[None].astype(np.float32),
        keypoints_visible=np.ones((1, k), np.float32),
        bbox=np.array([[90, 90, 310, 310]], np.float32),
        other_keypoints=(base + 30)[None].astype(np.float32),
        other_keypoints_visible=np.ones((1, k), np.float32),
        other_bboxes=np.array([[120, 120, 340, 340]], np.float32),
        sigmas=meta['sigmas'],
        flip_indices=meta['flip_indices'],
        upper_body_ids=meta['upper_body_ids'],
        lower_body_ids=meta['lower_body_ids'])


def test_crowdpose_metainfo_derives_tables():
    rng = np.random.default_rng(0)
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    with pytest.warns(UserWarning, match='no error tables for 14 keypoints'):
        out = transform(_crowdpose_sample(rng))
    assert out['input_keypoints'].shape == (1, 14, 2)
    seen = Counter()
    for _ in range(200):
        sample = _crowdpose_sample(rng)
        out = transform(copy.deepcopy(sample))
        keep, area = _scene(sample)
        for j, kind in enumerate(out['synth_error_types'][0]):
            _check_rule(out['input_keypoints'][0, j], kind, sample, j, keep,
                        area)
            seen[kind] += 1
    assert all(seen[t] > 0 for t in range(5)), seen


@pytest.mark.parametrize('kwargs, match', [
    (dict(overlap_iou_thr=1.5), 'overlap_iou_thr'),
    (dict(num_candidates=0), 'num_candidates'),
    (dict(unlabeled='guess'), 'unlabeled'),
    (dict(absent_rate=1.5), 'absent_rate'),
    (dict(error_tables=dict(COCO_ERROR_TABLES, jitter=[[None, [0.1] * 16]])),
     'jitter'),
    (dict(error_tables=dict(COCO_ERROR_TABLES, miss=[[None, [0.9] * 17]])),
     'sum to more than 1'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TRANSFORMS.build(dict(type='SynthesizePoseErrors', **kwargs))


def test_config_tables_are_used():
    tables = Config(dict(t=COCO_ERROR_TABLES)).t.to_dict()
    only_miss = copy.deepcopy(tables)
    for key in ('jitter', 'inversion', 'swap', 'swap_crowded'):
        only_miss[key] = [[None, [0.] * 17]]
    only_miss['miss'] = [[None, [1.] * 17]]
    transform = TRANSFORMS.build(
        dict(type='SynthesizePoseErrors', error_tables=only_miss))
    sample = _crowdpose_sample(np.random.default_rng(1))
    coco = dict(sample, keypoints=np.zeros((1, 17, 2), np.float32))
    coco['keypoints'][0] = np.random.default_rng(2).uniform(100, 300, (17, 2))
    coco.update(
        keypoints_visible=np.ones((1, 17), np.float32),
        other_keypoints=np.zeros((0, 17, 2), np.float32),
        other_keypoints_visible=np.zeros((0, 17), np.float32),
        other_bboxes=np.zeros((0, 4), np.float32),
        sigmas=np.full(17, 0.05),
        flip_indices=list(range(17)))
    out = transform(coco)
    assert np.all(out['synth_error_types'] == MISS)


def test_seeded_transform_ignores_global_state(coco_mini_train):
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors', seed=7))
    info_a, info_b = coco_mini_train[0], coco_mini_train[1]
    np.random.seed(1)
    first = transform(copy.deepcopy(info_a))['input_keypoints']
    np.random.seed(2)
    transform(copy.deepcopy(info_b))  # order and global state do not matter
    again = transform(copy.deepcopy(info_a))['input_keypoints']
    np.testing.assert_array_equal(first, again)
    other_seed = TRANSFORMS.build(dict(type='SynthesizePoseErrors', seed=8))
    assert not np.array_equal(first,
                              other_seed(copy.deepcopy(info_a))[
                                  'input_keypoints'])


def test_absent_joints_at_the_documented_rate(coco_mini_train):
    """Each sample draws a rate r ~ U[0, absent_rate] and drops each joint
    with probability r: the share of absent joints is absent_rate / 2, with
    the standard error of a mean over samples of a per-sample share."""
    rate, draws = 0.6, 6
    transform = TRANSFORMS.build(
        dict(type='SynthesizePoseErrors', absent_rate=rate))
    np.random.seed(0)
    shares = []
    for _ in range(draws):
        for i in range(len(coco_mini_train)):
            info = coco_mini_train.get_data_info(i)
            out = transform(info)
            absent = out['input_keypoints_visible'][0] == 0
            # an absent joint is written as estimators write it
            np.testing.assert_array_equal(out['input_keypoints'][0, absent],
                                          0)
            # and keeps its ground truth and type: the loss still applies
            assert (out['synth_error_types'][0, absent &
                                             (info['keypoints_visible'][0] >
                                              0)] >= 0).all()
            shares.append(absent.mean())
    shares = np.array(shares)
    stderr = shares.std() / np.sqrt(len(shares))
    assert abs(shares.mean() - rate / 2) < 4 * stderr


def test_no_absent_joints_by_default(coco_mini_train):
    transform = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    for i in range(len(coco_mini_train)):
        out = transform(coco_mini_train.get_data_info(i))
        assert (out['input_keypoints_visible'] == 1).all()
