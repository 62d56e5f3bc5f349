"""What the refiner says of each joint's move, and the per-joint decision
made from it.

The refiner returns a refined point for every joint; the decision keeps the
input point where the refined one is likely worse. What it can see, per
joint, are the *cues* of :func:`decision_cues`: how likely the refiner finds
the input point and the refined point (with the input prior, and from the
image alone), how far the joint moves, how much the flipped image's
refinement agrees, the learned :class:`~.joint_decision.JointDecision`'s
logit, and how much the whole pose moves. None of them depends on which
estimator made the input, so a decision over them is model-agnostic; the
input's own joint scores (whose meaning differs between estimators) are a
further cue that only calibration on that estimator's results may use. How
little they tell a good move from a bad one on real inputs (ROC AUC about
0.55 with the demo refiner) is measured in docs/benchmarks.md.

:class:`CueDecision` is that decision: a logistic model over the
standardised cues, a per-joint offset and, when calibrated for one
estimator, its joint scores. Its parameters are plain numbers in the
config (``test_cfg['decision_model']``), fitted by
:func:`posefix_mm.evaluation.calibration.fit_cue_decision`.
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from posefix_mm.utils.keypoint_similarity import keypoint_similarity

#: the per-joint cues of :func:`decision_cues`, in order
CUE_NAMES = (
    'decision_logit',  # the learned JointDecision's logit (0 without one)
    'log_p_input',  # the refiner's log-probability at the input point
    'log_p_refined',  # ... at the refined point
    'log_peak',  # ... at its peak
    'mass_input',  # its probability within KS 0.5 of the input point
    'mass_refined',  # ... of the refined point
    'move',  # log(1 - ln KS(refined, input)): how far the joint moves
    'flip_move',  # ... between the refinements of the image and its mirror
    'image_log_p_input',  # the refiner without the input prior: the image's
    'image_log_p_refined',  # say at the input and refined points
    'image_mass_input',
    'pose_move',  # the mean move of the person's present joints
    'pose_mass_input',  # their mean mass near the input point
)


def sample_maps(maps: Tensor, points: Tensor) -> Tensor:
    """Bilinear samples of (B, C, H, W) maps at (B, K, 2) pixel positions
    (clamped to the map): (B, K, C)."""
    h, w = maps.shape[-2:]
    scale = points.new_tensor([max(w - 1, 1), max(h - 1, 1)])
    grid = (points / scale).clamp(0, 1) * 2 - 1
    out = F.grid_sample(maps, grid[:, :, None], align_corners=True)
    return out[..., 0].transpose(1, 2)


def log_prob_at(log_probs: Tensor, points: Tensor) -> Tensor:
    """(B, K) samples of (B, K, H, W) maps, each at its joint's (B, K, 2)
    pixel position."""
    b, k, h, w = log_probs.shape
    return sample_maps(log_probs.reshape(b * k, 1, h, w),
                       points.reshape(b * k, 1, 2)).view(b, k)


def mass_near(probs: Tensor, points: Tensor, sigmas: Tensor,
              area: Tensor) -> Tensor:
    """(B, K) probability mass within keypoint similarity 0.5 of
    ``points``."""
    b, k, h, w = probs.shape
    xs = torch.arange(w, dtype=probs.dtype, device=probs.device)
    ys = torch.arange(h, dtype=probs.dtype, device=probs.device)
    dx2 = (xs - points[..., 0:1])**2
    dy2 = (ys - points[..., 1:2])**2
    sq = (dy2[..., :, None] + dx2[..., None, :]).flatten(2)
    near = keypoint_similarity(sq, area[..., None], sigmas[:, None]) >= 0.5
    return (probs.flatten(2) * near).sum(-1)


def ks_move(a: Tensor, b: Tensor, sigmas: Tensor, area: Tensor) -> Tensor:
    """log(1 - ln KS(a, b)) of (B, K, 2) points: 0 for no move, about 0.5
    at KS 0.5, growing slowly beyond."""
    exponent = ((a - b)**2).sum(-1) / (2 * area * (2 * sigmas)**2)
    return torch.log1p(exponent)


def decision_cues(probs: Tensor,
                  image_probs: Tensor,
                  refined: Tensor,
                  inputs: Tensor,
                  present: Tensor,
                  sigmas: Tensor,
                  area: Tensor,
                  decision_logit: Optional[Tensor] = None,
                  flip_refined: Optional[Tensor] = None) -> Tensor:
    """(B, K, len(CUE_NAMES)) the cues of :data:`CUE_NAMES`.

    Args:
        probs (Tensor): (B, K, H, W) the refiner's heatmaps (softmax; with
            the flip test, the average of the image's and the mirror's).
        image_probs (Tensor): the same without the input prior (equal to
            ``probs`` for a refiner without one).
        refined, inputs (Tensor): (B, K, 2) refined and input points in
            heatmap pixels.
        present (Tensor): (B, K) bool, the input's present joints.
        sigmas (Tensor): (K, ) keypoint sigmas.
        area (Tensor): (B, 1) person areas in heatmap pixels.
        decision_logit (Tensor, optional): (B, K) the learned decision's.
        flip_refined (Tensor, optional): (B, K, 2) the mirror image's
            refinement, mapped back (the flip test).
    """
    tiny = torch.finfo(probs.dtype).tiny
    log_probs = probs.clamp(min=tiny).log()
    image_log_probs = image_probs.clamp(min=tiny).log()
    move = ks_move(refined, inputs, sigmas, area)
    mass_input = mass_near(probs, inputs, sigmas, area)
    zeros = torch.zeros_like(move)
    weights = present.to(probs.dtype)
    count = weights.sum(-1, keepdim=True).clamp(min=1)

    def pose_mean(values):
        return ((values * weights).sum(-1, keepdim=True) / count).expand_as(
            values)

    cues = [
        zeros if decision_logit is None else decision_logit,
        log_prob_at(log_probs, inputs),
        log_prob_at(log_probs, refined),
        log_probs.flatten(2).max(-1).values,
        mass_input,
        mass_near(probs, refined, sigmas, area),
        move,
        zeros if flip_refined is None else ks_move(refined, flip_refined,
                                                   sigmas, area),
        log_prob_at(image_log_probs, inputs),
        log_prob_at(image_log_probs, refined),
        mass_near(image_probs, inputs, sigmas, area),
        pose_mean(move),
        pose_mean(mass_input),
    ]
    return torch.stack(cues, -1)


class CueDecision:
    """The per-joint decision as a logistic model over the cues:
    ``sigmoid(sum_c coef_c * (cue_c - mean_c) / std_c + joint_bias_k +
    intercept)``, plus ``score_coef * (input score - score_mean) /
    score_std`` when calibrated with the estimator's joint scores.

    Args:
        cues (Sequence[str]): the names (of :data:`CUE_NAMES`) it uses.
        coef, mean, std (Sequence[float]): one per cue.
        intercept (float): the logit's offset.
        joint_bias (Sequence[float], optional): one per keypoint.
        score_coef, score_mean, score_std (float, optional): the input joint
            score's term (an estimator's calibration only).
        source (str, optional): what it was fitted on (for messages).
    """

    def __init__(self,
                 cues: Sequence[str],
                 coef: Sequence[float],
                 mean: Sequence[float],
                 std: Sequence[float],
                 intercept: float = 0.0,
                 joint_bias: Optional[Sequence[float]] = None,
                 score_coef: Optional[float] = None,
                 score_mean: float = 0.0,
                 score_std: float = 1.0,
                 source: Optional[str] = None):
        unknown = [c for c in cues if c not in CUE_NAMES]
        if unknown:
            raise ValueError(f'decision_model: unknown cues {unknown}; the '
                             f'cues are {CUE_NAMES}')
        if not len(coef) == len(mean) == len(std) == len(cues):
            raise ValueError('decision_model: coef, mean and std need one '
                             f'value per cue ({len(cues)})')
        if any(s <= 0 for s in std) or score_std <= 0:
            raise ValueError('decision_model: every std must be > 0')
        self.cues = tuple(cues)
        self.index = [CUE_NAMES.index(c) for c in cues]
        self.coef, self.mean, self.std = (list(map(float, v))
                                          for v in (coef, mean, std))
        self.intercept = float(intercept)
        self.joint_bias = None if joint_bias is None else list(
            map(float, joint_bias))
        self.score_coef = None if score_coef is None else float(score_coef)
        self.score_mean, self.score_std = float(score_mean), float(score_std)
        self.source = source

    @property
    def uses_scores(self) -> bool:
        return self.score_coef is not None

    def logits(self,
               cues: Tensor,
               input_scores: Optional[Tensor] = None,
               joints: Optional[Tensor] = None) -> Tensor:
        """(B, K) decision logits from (B, K, C) cues (all of
        :data:`CUE_NAMES`) and, for a model with a score term, the (B, K)
        input joint scores. ``joints``: the keypoint index of each of the
        K positions (default 0..K-1; a table of single joints passes its
        own)."""
        x = cues[..., self.index]
        x = (x - x.new_tensor(self.mean)) / x.new_tensor(self.std)
        out = (x * x.new_tensor(self.coef)).sum(-1) + self.intercept
        if self.joint_bias is not None:
            bias = out.new_tensor(self.joint_bias)
            if joints is None:
                if len(bias) != cues.shape[-2]:
                    raise ValueError(
                        f'decision_model: joint_bias has {len(bias)} values '
                        f'for {cues.shape[-2]} keypoints')
                out = out + bias
            else:
                out = out + bias[joints]
        if self.uses_scores:
            if input_scores is None:
                raise ValueError(
                    'decision_model uses the input joint scores, and the '
                    'samples carry none (input_keypoint_scores)')
            out = out + self.score_coef * (input_scores -
                                           self.score_mean) / self.score_std
        return out

    def to_dict(self) -> dict:
        """The config form (``test_cfg['decision_model']``)."""
        out = dict(
            cues=list(self.cues),
            coef=self.coef,
            mean=self.mean,
            std=self.std,
            intercept=self.intercept)
        if self.joint_bias is not None:
            out['joint_bias'] = self.joint_bias
        if self.uses_scores:
            out.update(
                score_coef=self.score_coef,
                score_mean=self.score_mean,
                score_std=self.score_std)
        if self.source:
            out['source'] = self.source
        return out
