"""Calibration cross-validated by images, on hand-made refined poses whose
right answer is known: a refiner that only harms is switched off, one whose
good moves a cue tells apart is kept, and no held-out fold loses."""
import contextlib
import io

import numpy as np
import pytest
from xtcocotools.coco import COCO

from posefix_mm.apis.calibrate import calibrate, image_folds
from posefix_mm.apis.decision_report import RefinedWithTruth
from posefix_mm.engine import Refined
from posefix_mm.evaluation.calibration import KEEP_PRESENT
from posefix_mm.models.heads.decision_cues import CUE_NAMES

K = 17
SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                   1.07, 1.07, .87, .87, .89, .89]) / 10
MOVE = CUE_NAMES.index('move')


def _truth(num_images, rng):
    """One person per image, a 100 x 200 box."""
    images, anns, poses = [], [], []
    for i in range(num_images):
        pose = rng.uniform([100, 100], [200, 300], (K, 2))
        images.append(dict(id=i + 1, file_name=f'{i}.jpg', width=400,
                           height=400))
        anns.append(
            dict(id=i + 1, image_id=i + 1, category_id=1, iscrowd=0,
                 area=20000.0, bbox=[100, 100, 100, 200], num_keypoints=K,
                 keypoints=np.concatenate([pose, np.full((K, 1), 2)],
                                          1).ravel().tolist()))
        poses.append(pose)
    coco = COCO()
    coco.dataset = dict(images=images, annotations=anns,
                        categories=[dict(id=1, name='person')])
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco, poses


def _data(inputs, refined, cues, coco, probs):
    outputs = []
    for i, (inp, ref, cue, prob) in enumerate(zip(inputs, refined, cues,
                                                  probs)):
        info = dict(
            id=i, img_id=i + 1, bbox_score=np.array([1.0]),
            input_keypoints=inp[None].astype(np.float32),
            input_keypoints_visible=np.ones((1, K), np.float32),
            input_keypoint_scores=np.ones(K, np.float32))
        outputs.append(
            Refined(info, ref.astype(np.float32), np.full(K, 0.1), prob,
                    None, cue.astype(np.float32)))
    return RefinedWithTruth(outputs, coco, None, SIGMAS)


def test_a_refiner_that_only_harms_is_switched_off():
    rng = np.random.default_rng(0)
    coco, poses = _truth(30, rng)
    inputs = [p + rng.normal(0, 1, p.shape) for p in poses]
    refined = [p + rng.normal(0, 12, p.shape) for p in poses]
    cues = [rng.normal(size=(K, len(CUE_NAMES))) for _ in poses]
    probs = [rng.random(K) for _ in poses]
    calibration = calibrate(_data(inputs, refined, cues, coco, probs),
                            folds=3)
    assert not calibration.helps
    assert calibration.decision_thr == KEEP_PRESENT
    assert calibration.decision_model is None
    for fold in calibration.folds:
        # the refiner loses on every fold; calibration would not
        assert fold['refined'] < fold['input']


def test_good_moves_told_apart_by_a_cue_are_kept():
    rng = np.random.default_rng(1)
    coco, poses = _truth(40, rng)
    inputs, refined, cues = [], [], []
    for pose in poses:
        wrong = rng.random(K) < 0.3  # the input misses these joints
        inp = pose + rng.normal(0, 1, pose.shape)
        inp[wrong] += 40
        # the refiner fixes the missed joints and jitters the rest
        ref = np.where(wrong[:, None], pose, pose + rng.normal(
            0, 6, pose.shape))
        cue = rng.normal(size=(K, len(CUE_NAMES)))
        cue[:, MOVE] = np.where(wrong, 2.0, 0.0) + rng.normal(0, 0.2, K)
        inputs.append(inp)
        refined.append(ref)
        cues.append(cue)
    # the refiner's own decision: uninformative
    probs = [rng.random(K) for _ in poses]
    data = _data(inputs, refined, cues, coco, probs)
    calibration = calibrate(data, folds=4)
    assert calibration.chosen == 'estimator'
    assert calibration.decision_model is not None
    coef = dict(zip(calibration.decision_model.cues,
                    calibration.decision_model.coef))
    assert coef['move'] == max(coef.values())
    gains = calibration.held_out_gains('estimator')
    assert min(gains) >= 0 and np.mean(gains) > 0.05
    for fold in calibration.folds:
        assert fold['oracle'] >= fold['estimator'] - 1e-9


def test_folds_are_whole_images_and_need_two():
    rng = np.random.default_rng(2)
    coco, poses = _truth(7, rng)
    data = _data(poses, poses, [np.zeros((K, len(CUE_NAMES)))] * 7, coco,
                 [np.zeros(K)] * 7)
    folds = image_folds(data, 3)
    assert sorted(sum(folds, [])) == list(range(1, 8))
    assert len(image_folds(data, 50)) == 7
    with pytest.raises(ValueError, match='at least two images'):
        calibrate(data.subset([1]))
