"""PoseFixHead's test-time decoding: the flip test, the per-joint
decision, the do-no-harm gate and the refine contract's fields (the
contract of ``engine/refined.py``) on every prediction."""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor

from posefix_mm.utils.keypoint_similarity import keypoint_similarity
from ..utils import (flip_input_pose, read_input_pose, read_input_scores,
                     unflip_coordinates)
from .decision_cues import CueDecision, decision_cues

#: how refined joints are scored: ``'input'`` the input's score (an absent
#: joint the refiner's peak), ``'heatmap'`` the refiner's peak; the refine
#: contract (``engine/refined.py``) uses the same
KEYPOINT_SCORE_MODES = ('input', 'heatmap')


class HeadPrediction(NamedTuple):
    """:meth:`PoseFixHead.predict_tensors`: coordinates (B, K, 2) in heatmap
    pixels, probabilities (B, K, H, W), their peaks (B, K), and, with a
    decision, each joint's refine probability (B, K), with a gate the gated
    joints (B, K) (else None); ``kept`` (B, K): the present joints whose
    coordinates are the input point (kept by the decision or the gate);
    with a decision, its cues (B, K, C) (:func:`.decision_cues`)."""
    coords: Tensor
    probs: Tensor
    peaks: Tensor
    refine_probs: Optional[Tensor] = None
    gated: Optional[Tensor] = None
    kept: Optional[Tensor] = None
    cues: Optional[Tensor] = None


def keeps_input(refine_probs, present, thr: Optional[float]):
    """The joints that keep their input point under the per-joint decision
    (tensors or arrays of the same shape): present joints whose refine
    probability is below ``thr``; with ``thr >= 1`` every present joint (only
    absent joints are placed by the refiner); None: none."""
    if thr is None:
        return present & False
    return present & ((refine_probs < thr) | (thr >= 1))


def _softmax_maps(logits: Tensor) -> Tensor:
    """A softmax over each (H, W) map of (B, K, H, W) logits."""
    return logits.flatten(2).softmax(-1).view_as(logits)


class RefineDecodingMixin:
    """:meth:`predict` and :meth:`predict_tensors` of
    :class:`~.PoseFixHead` (which provides ``_outputs``, ``_heatmap_units``,
    ``_decision_inputs``, ``decoder``, ``decision`` and ``decode``).

    Keypoint scores of the predictions (``test_cfg['keypoint_score']``):
    ``'input'`` (default, as the official code) the input's where the
    samples carry them (``input_keypoint_scores``: a results file, a 2D
    model; they come out as ``input_keypoint_scores`` too), an absent joint
    the refiner's peak, as the refine contract (``engine/refined.py``) has
    it; a synthesized input has no scores: 1 for every joint, so
    CocoMetric's instance score is the input instance score; ``'heatmap'``
    the peak of each softmax heatmap (always in ``keypoint_peaks``).

    Per-joint decision (optional, ``decision``, a :class:`JointDecision`):
    predicts for each joint the probability that the refined joint is
    nearer the ground truth than the input joint, trained with the rest of
    the model on the synthesized inputs (labels are free there). With
    ``test_cfg['decision_model']`` (a :class:`~.decision_cues.CueDecision`
    or its dict) that probability is instead a logistic model of the
    joint's cues (:func:`~.decision_cues.decision_cues`, which come out as
    ``keypoint_decision_cues``) and, when calibrated with them, the input's
    joint scores (``input_keypoint_scores``). When
    decoding, a joint whose probability is below ``test_cfg['decision_thr']``
    (default 0.5; None: always refined; 1 or more: every present joint)
    keeps its input point; the
    probabilities come out as ``keypoint_refine_probs`` (1 for absent input
    joints, which only the refiner can place). With ``test_cfg['gate'] =
    dict(ks=..., min_peak=...)`` each joint then passes the do-no-harm gate
    (:meth:`_gate`; ``gated`` marks the joints that kept their input).
    """

    def predict(self,
                feats,
                batch_data_samples: list,
                test_cfg: Optional[dict] = None) -> List:
        """Keypoints in input-image coordinates (before the estimator maps
        them to the image): :meth:`predict_tensors` on the input pose,
        person areas, sigmas and flip indices of the samples.

        With ``test_cfg['flip_test']``, ``feats`` is a pair (of the image,
        of the mirrored image with the mirrored input pose).
        """
        test_cfg = test_cfg or {}
        mode = test_cfg.get('keypoint_score', 'input')
        if mode not in KEYPOINT_SCORE_MODES:
            raise ValueError(f'test_cfg.keypoint_score must be one of '
                             f'{KEYPOINT_SCORE_MODES}, got {mode!r}')
        flipped = flip_indices = None
        if test_cfg.get('flip_test', False):
            feats, flipped = feats
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
        like = feats[-1]
        area, sigmas = self._decision_inputs(
            batch_data_samples, like, self.decision is not None
            or bool(test_cfg.get('gate'))
            or test_cfg.get('decision_model') is not None)
        input_pose = read_input_pose(batch_data_samples, like)
        input_scores = read_input_scores(batch_data_samples, like)
        out = self.predict_tensors(feats, input_pose, area, sigmas,
                                   test_cfg, flipped, flip_indices,
                                   input_scores)
        preds = self.decode(out.coords.unsqueeze(1))
        peaks = to_numpy(out.peaks)
        present = input_pose[1] > 0
        fields = dict(keypoint_refine_probs=out.refine_probs,
                      gated=out.gated, keypoints_kept=out.kept,
                      keypoint_decision_cues=out.cues,
                      input_keypoint_scores=input_scores,
                      input_absent=~present,
                      keypoints_refined=~out.kept)
        fields = {k: to_numpy(v) for k, v in fields.items() if v is not None}
        for i, (pred, peak) in enumerate(zip(preds, peaks)):
            pred.keypoint_peaks = peak[None]
            if mode == 'heatmap':
                pred.keypoint_scores = peak[None].copy()
            elif input_scores is not None:
                # the contract's rule (engine/refined.py): a present joint
                # keeps the input's score, an absent one the refiner's peak
                pred.keypoint_scores = np.where(
                    fields['input_absent'][i], peak,
                    fields['input_keypoint_scores'][i])[None].astype(
                        np.float32)
            for name, value in fields.items():
                pred.set_field(value[i][None], name)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=p) for p in out.probs.detach()]
        return preds

    def predict_tensors(self,
                        feats: Tuple[Tensor],
                        input_pose: Tuple[Tensor, Tensor],
                        area: Optional[Tensor],
                        sigmas: Optional[Tensor],
                        test_cfg: dict,
                        flipped: Optional[Tuple[Tensor]] = None,
                        flip_indices: Optional[Sequence[int]] = None,
                        input_scores: Optional[Tensor] = None
                        ) -> HeadPrediction:
        """The refined pose as tensors (what :meth:`predict` decodes and the
        ONNX export traces).

        With ``flipped`` (the features of the mirrored image with the
        mirrored input pose), the flipped prediction is mirrored back, its
        mirror joints swapped (``flip_indices``), and averaged with the
        original (coordinates, probabilities, decision logits). Then the
        input point is kept where ``test_cfg['decision_thr']`` says so
        (with a decision) and where ``test_cfg['gate']`` says so
        (:meth:`_gate`).

        Args:
            feats (tuple[Tensor]): backbone stages of the image.
            input_pose (tuple): (B, K, 2) input-image coordinates and (B, K)
                visibility.
            area (Tensor, optional): (B, 1) person areas in heatmap pixels
                (:meth:`person_area`); needed by the decision and the gate.
            sigmas (Tensor, optional): (K, ) keypoint sigmas; likewise.
            test_cfg (dict): ``decision_thr``, ``gate``.
            flipped (tuple[Tensor], optional): backbone stages of the
                mirrored image.
            flip_indices (Sequence[int], optional): mirror joint of each.
            input_scores (Tensor, optional): (B, K) the input's joint
                scores, for a ``decision_model`` calibrated with them.
        """
        logits, probs, coords, decision, image_logits = self._outputs(
            feats, input_pose, area, sigmas)
        flip_coords = image_logits_f = None
        if flipped is not None:
            flip_indices = list(flip_indices)
            # the image flip x -> W_in - 1 - x, in heatmap units
            width = self.decoder.input_size[0]
            _, probs_f, coords_f, decision_f, image_logits_f = self._outputs(
                flipped, flip_input_pose(*input_pose, flip_indices, width),
                area, sigmas)
            flip_coords = unflip_coordinates(
                coords_f, flip_indices,
                (width - 1) / self.decoder.stride[0] + 1)
            coords = (coords + flip_coords) / 2
            probs = (probs + probs_f.flip(-1)[:, flip_indices]) / 2
            if decision is not None:
                decision = (decision + decision_f[:, flip_indices]) / 2
        peaks = probs.flatten(2).max(-1).values
        refine_probs = gated = cues = None
        kept = torch.zeros_like(peaks, dtype=torch.bool)
        model = self.decision_model(test_cfg)
        if decision is not None or model is not None:
            present = input_pose[1] > 0
            # the image's say, as probabilities (flip-averaged)
            image_probs = _softmax_maps(image_logits)
            if image_logits_f is not None:
                mirrored = _softmax_maps(image_logits_f).flip(-1)
                image_probs = (image_probs + mirrored[:, flip_indices]) / 2
            cues = decision_cues(probs, image_probs, coords,
                                 self._heatmap_units(input_pose[0]), present,
                                 sigmas, area, decision, flip_coords)
            if model is not None:
                decision = model.logits(cues, input_scores)
            coords, refine_probs, kept = self._decide(
                coords, decision, input_pose, test_cfg.get('decision_thr',
                                                           0.5))
        if test_cfg.get('gate'):
            coords, gated = self._gate(coords, input_pose, peaks, area,
                                       sigmas, **test_cfg['gate'])
            kept = kept | gated
        return HeadPrediction(coords, probs, peaks, refine_probs, gated,
                              kept, cues)

    @staticmethod
    def decision_model(test_cfg: dict) -> Optional[CueDecision]:
        """The :class:`CueDecision` of ``test_cfg['decision_model']``, or
        None (the learned decision's own probability)."""
        model = test_cfg.get('decision_model')
        if model is None or isinstance(model, CueDecision):
            return model
        return CueDecision(**model)

    def _decide(self, coords: Tensor, decision: Tensor, input_pose,
                thr: Optional[float]):
        """Keep the input point of the joints :func:`keeps_input` names.
        Returns the coordinates (B, K, 2), the probabilities (B, K), 1
        for absent input joints, and the kept joints (B, K)."""
        kpts, visible = input_pose
        present = visible > 0
        refine_probs = torch.where(present, decision.sigmoid(),
                                   torch.ones_like(decision))
        keep = keeps_input(refine_probs, present, thr)
        coords = torch.where(keep[..., None], self._heatmap_units(kpts),
                             coords)
        return coords, refine_probs, keep

    def _gate(self,
              coords: Tensor,
              input_pose,
              peaks: Tensor,
              area: Tensor,
              sigmas: Tensor,
              ks: float = 0.5,
              min_peak: Optional[float] = None):
        """Do-no-harm gating: keep the input joint unless the refiner is
        sure.

        A refined joint replaces its input joint if it stays near it
        (keypoint similarity to the input joint >= ``ks``: a jitter-sized
        correction), or if the refiner's softmax peak there is at least
        ``min_peak``; otherwise the input joint is kept. Absent input
        joints are never gated. Returns the coordinates (B, K, 2) and the
        gated joints (B, K).
        """
        kpts, visible = input_pose
        kpts = self._heatmap_units(kpts)
        similarity = keypoint_similarity(((coords - kpts)**2).sum(-1), area,
                                         sigmas)
        trusted = similarity >= ks
        if min_peak is not None:
            trusted |= peaks >= min_peak
        gated = (visible > 0) & ~trusted
        return torch.where(gated[..., None], kpts, coords), gated
