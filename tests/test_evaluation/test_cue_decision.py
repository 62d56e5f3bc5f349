"""The decision over cues: ROC AUC, the logistic fit, CueDecision, and the
joint table it is fitted on."""
import numpy as np
import pytest
import torch

from posefix_mm.evaluation.calibration import (cue_decision_probs,
                                               fit_cue_decision, roc_auc,
                                               spread)
from posefix_mm.models.heads.decision_cues import CUE_NAMES, CueDecision


def test_roc_auc_of_a_hand_made_case():
    # pairs (positive, negative): (0.35, 0.1) yes, (0.35, 0.4) no,
    # (0.8, 0.1) yes, (0.8, 0.4) yes: 3 of 4
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert roc_auc([0.9, 0.8, 0.1], [0, 0, 1]) == 0.0
    # a tie counts half; a constant score is chance
    assert roc_auc([0.5, 0.5], [0, 1]) == 0.5
    assert roc_auc(np.full(10, 0.7), np.arange(10) % 2) == 0.5
    assert np.isnan(roc_auc([0.2, 0.3], [1, 1]))


def test_spread_is_the_5th_and_95th_percentile():
    assert spread(np.arange(101)) == (5.0, 95.0)
    assert all(np.isnan(spread([])))


def _table(n, rng, signal=True):
    """n joints whose label is "the move is large" (with ``signal``) or a
    coin flip."""
    cues = rng.normal(size=(n, len(CUE_NAMES)))
    move = cues[:, CUE_NAMES.index('move')]
    label = move > 0.3 if signal else rng.random(n) < 0.5
    return dict(
        cues=cues,
        label=label,
        cost=np.abs(move) + 0.1,
        joint=rng.integers(0, 17, n),
        scores=rng.random(n),
        moved=np.ones(n, bool))


def test_fit_finds_the_cue_that_decides():
    rng = np.random.default_rng(0)
    model = fit_cue_decision([_table(4000, rng)])
    test = _table(2000, rng)
    assert roc_auc(cue_decision_probs(model, test), test['label']) > 0.95
    coef = dict(zip(model.cues, model.coef))
    assert coef['move'] > 5 * max(
        abs(v) for k, v in coef.items() if k != 'move')
    # without a signal there is nothing to find
    model = fit_cue_decision([_table(4000, rng, signal=False)])
    test = _table(2000, rng, signal=False)
    assert abs(roc_auc(cue_decision_probs(model, test), test['label']) -
               0.5) < 0.05


def test_fit_with_scores_uses_them():
    rng = np.random.default_rng(1)
    table = _table(3000, rng, signal=False)
    table['label'] = table['scores'] < 0.4  # low scores: refine
    model = fit_cue_decision([table], use_scores=True)
    assert model.uses_scores and model.score_coef < 0
    assert roc_auc(cue_decision_probs(model, table), table['label']) > 0.95


def test_cue_decision_on_a_batch_matches_the_table_form():
    rng = np.random.default_rng(2)
    model = fit_cue_decision([_table(500, rng)])
    cues = torch.as_tensor(rng.normal(size=(3, 17, len(CUE_NAMES))))
    batch = torch.sigmoid(model.logits(cues))
    table = dict(
        cues=cues.reshape(-1, len(CUE_NAMES)).numpy(),
        joint=np.tile(np.arange(17), 3),
        scores=np.zeros(51))
    np.testing.assert_allclose(
        cue_decision_probs(model, table), batch.reshape(-1).numpy(),
        rtol=1e-6)
    # the config form builds the same decision
    again = CueDecision(**model.to_dict())
    torch.testing.assert_close(again.logits(cues), model.logits(cues))


def test_cue_decision_refuses_bad_settings():
    n = len(CUE_NAMES)
    with pytest.raises(ValueError, match='unknown cues'):
        CueDecision(cues=['nope'], coef=[1], mean=[0], std=[1])
    with pytest.raises(ValueError, match='one value per cue'):
        CueDecision(cues=list(CUE_NAMES), coef=[1], mean=[0] * n,
                    std=[1] * n)
    with pytest.raises(ValueError, match='std must be > 0'):
        CueDecision(cues=['move'], coef=[1], mean=[0], std=[0])
    scored = CueDecision(cues=['move'], coef=[1], mean=[0], std=[1],
                         score_coef=-1.0)
    with pytest.raises(ValueError, match='input joint scores'):
        scored.logits(torch.zeros((1, 17, n)))
    biased = CueDecision(cues=['move'], coef=[1], mean=[0], std=[1],
                         joint_bias=[0.0] * 17)
    with pytest.raises(ValueError, match='joint_bias has 17 values'):
        biased.logits(torch.zeros((1, 14, n)))
