"""The learned per-joint decision: its labels, its training, and the choice
it makes when decoding."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from posefix_mm.models.heads.joint_decision import (crop_person_area,
                                                    decision_targets)
from posefix_mm.utils.error_taxonomy import GOOD, MISS
from posefix_mm.utils.keypoint_similarity import ks_distance
from ..conftest import REPO_ROOT

DEMO_CONFIG = f'{REPO_ROOT}/configs/posefix_r18_coco-mini-lspet-128x96.py'
SIGMAS = torch.full((3, ), 0.1)
AREA = 100.0


def test_targets_favour_the_nearer_joint_weighted_by_ks_lost():
    gt = torch.zeros(1, 3, 2)
    inputs = torch.tensor([[[8., 0.], [0., 1.], [3., 0.]]])
    refined = torch.tensor([[[1., 0.], [0., 6.], [0., 3.]]])
    labels, weights = decision_targets(refined, inputs, gt, AREA, SIGMAS)
    # joint 0: refined nearer; joint 1: input nearer; joint 2: a tie
    np.testing.assert_array_equal(labels[0].numpy(), [1, 0, 0])
    ks = lambda d: np.exp(-d**2 / (2 * AREA * 0.2**2))  # noqa: E731
    np.testing.assert_allclose(weights[0].numpy(),
                               [ks(1) - ks(8), ks(1) - ks(6), 0], atol=1e-6)


def test_labels_match_synthesized_types(coco_mini_train):
    """A refiner that lands at KS 0.7 of the ground truth beats every
    synthesized "miss" (KS < 0.5) and loses to every "good" (KS > 0.85)."""
    from posefix_mm.datasets.transforms import SynthesizePoseErrors
    synth = SynthesizePoseErrors(seed=0)
    counts = {GOOD: 0, MISS: 0}
    for i in range(len(coco_mini_train)):
        info = synth(coco_mini_train.get_data_info(i))
        x1, y1, x2, y2 = info['bbox'][0]
        area = (x2 - x1) * (y2 - y1)
        sigmas = torch.as_tensor(info['sigmas'], dtype=torch.float64)
        gt = torch.as_tensor(info['keypoints'], dtype=torch.float64)
        offset = ks_distance(0.7, area, info['sigmas'])
        refined = gt.clone()
        refined[..., 0] += torch.as_tensor(offset)
        inputs = torch.as_tensor(info['input_keypoints'], dtype=torch.float64)
        labels, _ = decision_targets(refined, inputs, gt, area, sigmas)
        types = info['synth_error_types']
        for t, expected in ((GOOD, 0), (MISS, 1)):
            got = labels[torch.as_tensor(types == t)]
            assert (got == expected).all(), (i, t)
            counts[t] += len(got)
    assert counts[GOOD] > 500 and counts[MISS] > 50


@pytest.fixture(scope='module')
def demo_model():
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def demo_batch(coco_mini):
    from mmengine.dataset import pseudo_collate
    cfg = Config.fromfile(DEMO_CONFIG)
    dataset_cfg = cfg.train_dataloader.dataset.datasets[0]
    dataset_cfg.data_root = coco_mini
    dataset_cfg.pipeline = cfg.train_pipeline
    init_default_scope('mmpose')
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(0)
    return pseudo_collate([dataset[i] for i in range(4)])


def test_decision_loss_trains_only_the_decision(demo_model, demo_batch):
    data = demo_model.data_preprocessor(demo_batch, True)
    demo_model.train()
    losses = demo_model(**data, mode='loss')
    assert losses['loss_decision'] > 0
    demo_model.zero_grad()
    losses['loss_decision'].backward()
    decision = {id(p) for p in demo_model.head.decision.parameters()}
    for name, p in demo_model.named_parameters():
        moved = p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert moved == (id(p) in decision), name
    demo_model.zero_grad()
    demo_model.eval()


def _predict(model, batch, decision_logits, thr):
    """Predictions with the decision's logits fixed to ``decision_logits``
    (K, ), flip test off."""
    model.test_cfg = dict(flip_test=False, decision_thr=thr)
    model.head.decision.forward = \
        lambda feats, *args: decision_logits.expand(len(feats), -1)
    try:
        data = model.data_preprocessor(batch, False)
        with torch.no_grad():
            return model.predict(data['inputs'], data['data_samples'])
    finally:
        del model.head.decision.forward


def _moving_model():
    """The demo model with a random last layer: a refiner that moves the
    joints."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    model.init_weights()
    model.head.final_layer.weight.data.normal_(std=1.0)
    return model.eval()


def test_decoding_keeps_input_where_the_decision_says(demo_batch):
    model = _moving_model()
    demo_batch = copy.deepcopy(demo_batch)
    # joint 3 absent in every sample (always the refiner's), the rest given
    for s in demo_batch['data_samples']:
        s.gt_instances.input_keypoints_visible[:] = 1
        s.gt_instances.input_keypoints_visible[:, 3] = 0
    logits = torch.full((17, ), 3.0)
    logits[[0, 3, 5]] = -3.0  # p = 0.047: keep the input (not the absent 3)
    preds = _predict(model, demo_batch, logits, thr=0.5)
    everything = _predict(model, demo_batch, logits, thr=None)
    for pred, full in zip(preds, everything):
        inst, full_inst = pred.pred_instances, full.pred_instances
        kept = np.zeros(17, bool)
        kept[[0, 5]] = True
        np.testing.assert_allclose(inst.keypoints[0, kept],
                                   inst.input_keypoints[0, kept], atol=1e-3)
        np.testing.assert_allclose(inst.keypoints[0, ~kept],
                                   full_inst.keypoints[0, ~kept])
        # the refiner did move them (far beyond the tolerance above):
        # keeping the input is a real choice
        moved = np.abs(full_inst.keypoints[0] -
                       inst.input_keypoints[0]).max(-1)
        assert (moved[kept] > 0.05).all()
        probs = inst.keypoint_refine_probs[0]
        assert probs[3] == 1 and probs[0] == pytest.approx(0.0474, abs=1e-3)
        assert probs[1] == pytest.approx(0.9526, abs=1e-3)


def test_person_area_from_the_pipeline_padding():
    """The head measures KS in the person box the pipeline cropped: at
    test time the crop is GetBBoxCenterScale's padding times the box."""
    from mmpose.datasets.transforms import GetBBoxCenterScale
    from posefix_mm.datasets.transforms import (PackPoseFixInputs,
                                                TopdownAffineWithInputPose)
    img = np.zeros((200, 300, 3), np.uint8)
    for padding, box in ((1.25, [10, 20, 110, 180]), (1.6, [5, 5, 45, 25])):
        results = dict(
            img=img, img_shape=img.shape[:2], bbox=np.array([box], float),
            input_keypoints=np.full((1, 17, 2), 30, np.float32),
            input_keypoints_visible=np.ones((1, 17), np.float32),
            keypoints=np.zeros((1, 17, 2), np.float32),
            keypoints_visible=np.ones((1, 17), np.float32),
            sigmas=np.full(17, 0.05))
        results = GetBBoxCenterScale(padding=padding)(results)
        results = TopdownAffineWithInputPose(input_size=(96, 128))(results)
        meta = PackPoseFixInputs()(results)['data_samples'].metainfo
        assert meta['bbox_padding'] == pytest.approx(padding)
    assert crop_person_area((24, 32), 1.25) == pytest.approx(24 * 32 / 1.5625)


def test_decision_model_over_the_cues(demo_batch):
    """test_cfg.decision_model replaces the learned decision's probability
    by a logistic model of the cues (and of the input's joint scores when
    calibrated with them); the cues come out with the prediction."""
    from posefix_mm.models.heads.decision_cues import CUE_NAMES
    model = _moving_model()
    batch = copy.deepcopy(demo_batch)
    move = CUE_NAMES.index('move')
    cue_model = dict(cues=['move'], coef=[8.0], mean=[0.0], std=[1.0],
                     intercept=-2.0)
    model.test_cfg = dict(flip_test=True, decision_thr=0.5,
                          decision_model=cue_model)
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        preds = model.predict(data['inputs'], data['data_samples'])
    kept_any = refined_any = False
    for pred in preds:
        inst = pred.pred_instances
        cues = inst.keypoint_decision_cues[0]
        assert cues.shape == (17, len(CUE_NAMES))
        probs = 1 / (1 + np.exp(-(8 * cues[:, move] - 2)))
        present = inst.input_keypoints[0].any(-1)
        np.testing.assert_allclose(inst.keypoint_refine_probs[0][present],
                                   probs[present], rtol=1e-4)
        keep = present & (probs < 0.5)
        np.testing.assert_allclose(inst.keypoints[0][keep],
                                   inst.input_keypoints[0][keep], atol=1e-3)
        kept_any |= keep.any()
        refined_any |= (present & ~keep).any()
    assert kept_any and refined_any
    # (predict writes into the samples: keep what it gave)
    plain = [(p.pred_instances.keypoint_refine_probs[0].copy(),
              p.pred_instances.input_keypoints[0].any(-1)) for p in preds]
    # calibrated with the input's scores: they must come with the samples
    model.test_cfg['decision_model'] = dict(cue_model, score_coef=-1.0)
    with pytest.raises(ValueError, match='input_keypoint_scores'):
        with torch.no_grad():
            model.predict(data['inputs'], data['data_samples'])
    for sample in data['data_samples']:
        sample.gt_instances.input_keypoint_scores = np.full((1, 17), 0.5)
    with torch.no_grad():
        scored = model.predict(data['inputs'], data['data_samples'])
    for pred, (b, present) in zip(scored, plain):
        a = pred.pred_instances.keypoint_refine_probs[0]
        # score 0.5 standardised by mean 0, std 1: logit - 0.5 (where
        # float32 probabilities are not saturated)
        with np.errstate(divide='ignore'):
            la, lb = np.log(a / (1 - a)), np.log(b / (1 - b))
        use = present & (np.abs(lb) < 6)
        assert use.sum() >= 5
        np.testing.assert_allclose(la[use], lb[use] - 0.5, atol=1e-3)


@pytest.mark.parametrize('thr, expected', [
    (None, [False, False, False]),  # always refined
    (0.5, [True, False, False]),  # below the threshold: kept
    (1.0, [True, True, False]),  # every present joint kept
])
def test_keeps_input_by_threshold(thr, expected):
    from posefix_mm.models.heads.refine_decoding import keeps_input
    probs = torch.tensor([0.2, 0.7, 1.0])
    present = torch.tensor([True, True, False])
    assert keeps_input(probs, present, thr).tolist() == expected


def test_decision_inputs_missing_from_the_metainfo_named():
    from mmpose.structures import PoseDataSample
    from posefix_mm.models.heads.joint_decision import (
        samples_bbox_padding, samples_sigmas)
    samples = [PoseDataSample(metainfo=dict(bbox_padding=1.25))]
    like = torch.zeros(1)
    assert samples_bbox_padding(samples, like).tolist() == [1.25]
    with pytest.raises(KeyError, match='sigmas'):
        samples_sigmas(samples, like)
    with pytest.raises(KeyError, match='bbox_padding'):
        samples_bbox_padding([PoseDataSample(metainfo=dict(sigmas=[1.]))],
                             like)
