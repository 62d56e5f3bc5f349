"""Calibrating the per-joint decision on one estimator's validation results,
cross-validated by images: the work behind ``tools/decision_report.py
--save``.

Two candidates are fitted on the training folds and measured on the held-out
fold:

- ``threshold``: the refiner's own decision (the config's), with the
  threshold :func:`choose_decision_thr` picks on the training folds;
- ``estimator``: a :class:`CueDecision` refitted to this estimator's joints
  (the decision's cues, the input joint scores when the results carry
  informative ones, a bias per joint), with its threshold chosen the same
  way.

A candidate is kept only if no held-out fold loses AP against the input;
of those, the best mean held-out gain wins. When none is kept, present joints
keep their input point (``decision_thr`` 1.0): refinement does not help this
estimator, and the refiner still places the joints the input lacks. The
winner is then fitted on all the images.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from posefix_mm.evaluation.calibration import (KEEP_PRESENT,
                                               choose_decision_thr,
                                               cue_decision_probs,
                                               fit_cue_decision)
from posefix_mm.models.heads.decision_cues import CueDecision
from .decision_report import (DEFAULT_THRESHOLDS, RefinedWithTruth,
                              as_results, decide, oracle)

#: the candidates, in the order they are reported
CANDIDATES = ('threshold', 'estimator')


class Calibration(NamedTuple):
    """The outcome of :func:`calibrate`.

    ``folds``: per fold, the held-out AP of ``input``, ``refined`` (every
    joint), ``oracle``, and of each candidate; ``chosen``: the candidate
    kept (None: present joints keep their input); ``decision_thr`` and
    ``decision_model`` (a :class:`CueDecision`, or None for the refiner's
    own decision): the setting fitted on all the images; ``helps``: whether
    refining present joints is kept at all.
    """
    folds: List[dict]
    chosen: Optional[str]
    decision_thr: float
    decision_model: Optional[CueDecision]

    @property
    def helps(self) -> bool:
        return self.chosen is not None

    def held_out_gains(self, name: str) -> List[float]:
        return [f[name] - f['input'] for f in self.folds]


def refine_probs(outputs: Sequence, model: Optional[CueDecision]) -> list:
    """Per output, the refine probability of each joint (K, ): ``model``'s,
    or the refiner's own (None)."""
    if model is None:
        return [o.refine_probs for o in outputs]
    return [
        cue_decision_probs(
            model,
            dict(cues=o.cues, scores=o.info['input_keypoint_scores'],
                 joint=np.arange(len(o.cues)))) for o in outputs
    ]


def _best_threshold(data: RefinedWithTruth, probs: Sequence,
                    thresholds: Sequence[float]) -> float:
    input_ap = data.ap([o.input_keypoints for o in data.outputs])
    aps = {thr: data.ap(decide(data.outputs, thr, probs))
           for thr in thresholds}
    return choose_decision_thr([input_ap], [aps])


def informative_scores(data: RefinedWithTruth) -> bool:
    """Whether the input joint scores vary (some estimators write 1 or 0
    for every joint: nothing to learn from)."""
    scores = [
        np.asarray(o.info['input_keypoint_scores'])[o.present]
        for o in data.outputs
    ]
    scores = np.concatenate(scores) if scores else np.zeros(0)
    return len(scores) > 1 and float(scores.std()) > 1e-6


def fit_candidate(name: str, data: RefinedWithTruth,
                  thresholds: Sequence[float]) -> tuple:
    """``(decision_thr, decision_model)`` of candidate ``name`` fitted on
    ``data``."""
    model = None
    if name == 'estimator':
        model = fit_cue_decision([data.table()],
                                 use_scores=informative_scores(data),
                                 source='calibration')
    elif name != 'threshold':
        raise ValueError(f'unknown candidate {name!r}: {CANDIDATES}')
    return _best_threshold(data, refine_probs(data.outputs, model),
                           thresholds), model


def image_folds(data: RefinedWithTruth, folds: int, seed: int = 0) -> list:
    """The images of ``data``'s poses in ``folds`` groups (shuffled with
    ``seed``; fewer groups when there are fewer images)."""
    images = sorted({o.info['img_id'] for o in data.outputs})
    order = np.random.default_rng(seed).permutation(len(images))
    folds = max(1, min(folds, len(images)))
    return [[images[i] for i in order[f::folds]] for f in range(folds)]


def calibrate(data: RefinedWithTruth,
              folds: int = 5,
              thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
              seed: int = 0) -> Calibration:
    """Cross-validate the candidates by images and fit the one kept (see
    the module's docstring).

    Raises:
        ValueError: fewer than two images (nothing to hold out).
    """
    groups = image_folds(data, folds, seed)
    if len(groups) < 2:
        raise ValueError('calibration needs the poses of at least two '
                         'images (one to fit on, one to hold out)')
    results = []
    for held_out in groups:
        test = data.subset(held_out)
        train = data.subset(
            {o.info['img_id']
             for o in data.outputs} - set(held_out))
        row = dict(
            images=len(held_out),
            input=test.ap([o.input_keypoints for o in test.outputs]),
            refined=test.ap([o.keypoints for o in test.outputs]),
            oracle=test.ap(
                oracle(test.outputs, test.gt,
                       as_results(test.outputs,
                                  [o.input_keypoints for o in test.outputs]),
                       test.sigmas)))
        for name in CANDIDATES:
            thr, model = fit_candidate(name, train, thresholds)
            row[name] = test.ap(
                decide(test.outputs, thr, refine_probs(test.outputs, model)))
            row[name + '_thr'] = thr
        results.append(row)
    safe = [
        name for name in CANDIDATES
        if min(r[name] - r['input'] for r in results) >= 0
        and np.mean([r[name] - r['input'] for r in results]) > 0
    ]
    chosen = max(
        safe,
        key=lambda n: np.mean([r[n] - r['input'] for r in results]),
        default=None)
    if chosen is None:
        return Calibration(results, None, KEEP_PRESENT, None)
    thr, model = fit_candidate(chosen, data, thresholds)
    return Calibration(results, chosen, thr, model)
