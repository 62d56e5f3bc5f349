"""The per-joint decision measured and fitted on real inputs with ground
truth (a user's validation results, or held-out training images): the
joint table of cues and labels, ROC AUC, the logistic fit of a
:class:`~posefix_mm.models.heads.decision_cues.CueDecision`, the threshold
that never loses, and the calibrated config."""
import os.path as osp
from collections import defaultdict
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import rankdata

from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.models.heads.decision_cues import CUE_NAMES, CueDecision
from posefix_mm.utils.keypoint_similarity import keypoint_similarity
from .error_analysis import match

# decision_thr at which every present joint keeps its input point: only
# absent joints are placed by the refiner
KEEP_PRESENT = 1.0


def choose_decision_thr(input_aps: Sequence[float],
                        decision_aps: Sequence[Dict[float, float]]) -> float:
    """The threshold with the best mean AP gain over the inputs among those
    that lose on none of them (gain >= 0 on each; ties go to the higher,
    more conservative threshold); :data:`KEEP_PRESENT` when none is safe.

    Args:
        input_aps: the AP of each input as it is.
        decision_aps: for each input, {threshold: AP with the decision at
            that threshold}; every input has the same thresholds.
    """
    if len(input_aps) != len(decision_aps) or not input_aps:
        raise ValueError('one {threshold: AP} per input AP, at least one')
    thresholds = set(decision_aps[0])
    if any(set(aps) != thresholds for aps in decision_aps):
        raise ValueError('every input needs the same thresholds')
    best, best_gain = KEEP_PRESENT, None
    for thr in sorted(thresholds, reverse=True):
        gains = [aps[thr] - ap for ap, aps in zip(input_aps, decision_aps)]
        if min(gains) < 0:
            continue
        mean = sum(gains) / len(gains)
        if best_gain is None or mean > best_gain:
            best, best_gain = thr, mean
    return best


def calibrated_config(config: str,
                      decision_thr: float,
                      source: Optional[str] = None,
                      decision_model: Optional[CueDecision] = None) -> str:
    """The text of a config that is ``config`` with ``decision_thr`` (and,
    when given, ``decision_model``, an estimator's calibrated decision), for
    ``tools/refine.py``, ``RefineInferencer(refiner=...)`` and
    ``PoseRefiner``: ``config`` merged with its bases into one file, so that
    it works from any folder and whatever becomes of ``config``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    test_cfg = dict(cfg.model.get('test_cfg') or {})
    test_cfg['decision_thr'] = decision_thr
    if decision_model is not None:
        test_cfg['decision_model'] = decision_model.to_dict()
    cfg.model.test_cfg = test_cfg
    head = f'# {osp.basename(config)} with the per-joint decision calibrated'
    if source:
        head += f' on {source}'
    return f'{head}\n# (its bases merged in: {osp.abspath(config)})\n' + \
        cfg.pretty_text


def roc_auc(scores, labels) -> float:
    """The area under the ROC curve of ``scores`` for binary ``labels``
    (the probability that a random positive scores above a random negative,
    ties counting half); nan without both classes."""
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels, bool).ravel()
    positives, negatives = labels.sum(), (~labels).sum()
    if not positives or not negatives:
        return float('nan')
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) /
                 (positives * negatives))


#: a joint "moves" when the refined point is this far from the input point
#: (image pixels): below it, the choice makes no difference
MOVED_PX = 1e-3


def joint_table(outputs: Sequence, gt: dict, sigmas) -> dict:
    """Per joint of refined poses (``Refined`` with ``cues``), what the
    decision is fitted and measured on: for the present input joints of
    the entries matched to a ground-truth person (COCO's greedy OKS
    matching of the input poses), whose ground truth is labelled.

    Returns:
        dict of arrays, one row per such joint: ``cues`` (N, C),
        ``scores`` (the input's joint score), ``joint``, ``image``
        (image id), ``entry`` (index in ``outputs``), ``label`` (the
        refined point is nearer the ground truth than the input, in keypoint
        similarity), ``cost`` (|KS(refined) - KS(input)|: what choosing
        wrong loses), ``moved`` (the refined point differs from the input)
        and ``refine_probs`` (where the outputs have them).
    """
    sigmas = np.asarray(sigmas, np.float64)
    inputs = [
        coco_entry(o.info['img_id'], o.input_keypoints,
                   score=o.info['bbox_score'][0]) for o in outputs
    ]
    matched = match(gt, inputs, sigmas)
    rows = defaultdict(list)
    for index, image_id, person, _ in matched['pairs']:
        o = outputs[index]
        if o.cues is None:
            raise ValueError('joint_table needs the decision cues: refine '
                             'with a model that has a per-joint decision')
        p = matched['persons'][image_id][person]
        use = o.present & p['visible']
        area = p['area'] + np.spacing(1)
        ks = [
            keypoint_similarity(((k - p['keypoints'])**2).sum(-1), area,
                                sigmas) for k in (o.keypoints,
                                                  o.input_keypoints)
        ]
        moved = np.linalg.norm(o.keypoints - o.input_keypoints,
                               axis=-1) > MOVED_PX
        probs = o.refine_probs if o.refine_probs is not None else \
            np.full(len(use), np.nan)
        for j in np.flatnonzero(use):
            rows['cues'].append(o.cues[j])
            rows['scores'].append(
                float(o.info['input_keypoint_scores'][j]))
            rows['joint'].append(j)
            rows['image'].append(image_id)
            rows['entry'].append(index)
            rows['label'].append(ks[0][j] > ks[1][j])
            rows['cost'].append(abs(ks[0][j] - ks[1][j]))
            rows['moved'].append(moved[j])
            rows['refine_probs'].append(probs[j])
    num_cues = len(CUE_NAMES)
    table = {k: np.asarray(v) for k, v in rows.items()}
    if not rows:
        table = dict(
            cues=np.zeros((0, num_cues)),
            **{
                k: np.zeros(0)
                for k in ('scores', 'joint', 'image', 'entry', 'label',
                          'cost', 'moved', 'refine_probs')
            })
    table['label'] = table['label'].astype(bool)
    table['moved'] = table['moved'].astype(bool)
    table['joint'] = table['joint'].astype(int)
    return table


def spread(values, low: float = 5, high: float = 95) -> tuple:
    """The (``low``, ``high``) percentiles of ``values`` (nan, nan when
    empty)."""
    values = np.asarray(values, np.float64)
    if not len(values):
        return float('nan'), float('nan')
    return tuple(float(v) for v in np.percentile(values, [low, high]))


def fit_cue_decision(tables: Sequence[dict],
                     cues: Sequence[str] = CUE_NAMES,
                     use_scores: bool = False,
                     joint_bias: bool = True,
                     l2: float = 1.0,
                     table_weights: Optional[Sequence[float]] = None,
                     source: Optional[str] = None) -> CueDecision:
    """A :class:`CueDecision` fitted to joint tables
    (:func:`joint_table`): logistic regression of ``label`` on the
    standardised cues (and the input score with ``use_scores``), a bias per
    joint with ``joint_bias``, each joint weighted by its ``cost`` (the
    keypoint similarity a wrong choice loses, as the learned decision is
    trained), with an L2 penalty ``l2`` on the coefficients (not the
    intercept). ``table_weights``: a weight per table, each table's cost
    normalised to sum to it (default 1 each), so that a large input does
    not drown a small one.
    """
    if not tables:
        raise ValueError('fit_cue_decision needs at least one joint table')
    table_weights = table_weights or [1.0] * len(tables)
    index = [CUE_NAMES.index(c) for c in cues]
    xs, ys, ws, joints, scores = [], [], [], [], []
    for table, weight in zip(tables, table_weights):
        cost = np.asarray(table['cost'], np.float64)
        if not len(cost) or cost.sum() <= 0:
            continue
        xs.append(np.asarray(table['cues'], np.float64)[:, index])
        ys.append(np.asarray(table['label'], np.float64))
        ws.append(cost / cost.sum() * weight)
        joints.append(np.asarray(table['joint'], int))
        scores.append(np.asarray(table['scores'], np.float64))
    if not xs:
        raise ValueError('fit_cue_decision: no joint with a cost to fit on')
    x, y, w = (np.concatenate(v) for v in (xs, ys, ws))
    joint, score = np.concatenate(joints), np.concatenate(scores)
    w = w / w.sum() * len(w)
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-6] = 1.0
    features = [(x - mean) / std]
    score_mean = score_std = None
    if use_scores:
        score_mean, score_std = score.mean(), max(score.std(), 1e-6)
        features.append(((score - score_mean) / score_std)[:, None])
    num_joints = int(joint.max()) + 1
    if joint_bias:
        features.append(np.eye(num_joints)[joint])
    features = np.concatenate(features, 1)
    num_coef = features.shape[1]

    def loss(params):
        coef, intercept = params[:-1], params[-1]
        z = features @ coef + intercept
        # log(1 + e^z) - y z, stable
        value = (w * (np.logaddexp(0, z) - y * z)).sum() / len(w)
        value += l2 * (coef**2).sum() / len(w)
        p = 1 / (1 + np.exp(-z))
        grad_z = w * (p - y) / len(w)
        grad = np.concatenate(
            [features.T @ grad_z + 2 * l2 * coef / len(w), [grad_z.sum()]])
        return value, grad

    result = minimize(loss, np.zeros(num_coef + 1), jac=True,
                      method='L-BFGS-B')
    params = result.x
    coef, intercept = params[:-1], float(params[-1])
    n = len(index)
    kwargs = dict(
        cues=list(cues),
        coef=coef[:n].tolist(),
        mean=mean.tolist(),
        std=std.tolist(),
        intercept=intercept,
        source=source)
    if use_scores:
        kwargs.update(
            score_coef=float(coef[n]),
            score_mean=float(score_mean),
            score_std=float(score_std))
    if joint_bias:
        kwargs['joint_bias'] = coef[num_coef - num_joints:].tolist()
    return CueDecision(**kwargs)


def cue_decision_probs(model: CueDecision, table: dict) -> np.ndarray:
    """The refine probability ``model`` gives each joint of ``table``."""
    logits = model.logits(
        torch.as_tensor(np.asarray(table['cues'], np.float64)),
        torch.as_tensor(np.asarray(table['scores'], np.float64)),
        torch.as_tensor(np.asarray(table['joint'], np.int64)))
    return torch.sigmoid(logits).numpy()
