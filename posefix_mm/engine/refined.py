"""What a refined pose holds: the one contract of every refine path.

``tools/refine.py`` (a results file, with the torch model or the ONNX
backend), ``RefineInferencer`` (an MMPose 2D model's poses), ``PoseRefiner``
(a pose model's predictions in a test run) and
``tools/decision_report.py`` all refine through
:func:`~posefix_mm.engine.refine_samples` and write back through this
module. For each input pose, in image coordinates:

- ``keypoints`` (K, 2): the refined joints. A joint that the per-joint
  decision (or the gate) keeps is the input point, exactly.
- ``keypoint_scores`` (K, ): a present input joint keeps the input's score
  (so OKS NMS, rescoring and ranking downstream are unchanged); an absent
  input joint, placed by the refiner alone, gets the refiner's peak.
  (``keypoint_score='heatmap'``: the refiner's peak for every joint.)
- ``keypoint_peaks`` (K, ): the refiner's softmax peak at each joint, its
  confidence (a softmax over the whole heatmap: about 0.05-0.3).
- ``keypoint_refine_probs`` (K, ), with a per-joint decision only: the
  probability that the refined joint beats the input joint; 1 for absent
  input joints.
- ``input_keypoints``, ``input_keypoint_scores``: the input pose as given;
  ``input_absent`` (K, ) bool: the joints the input lacked (at (0, 0), or
  scored at or below ``absent_score_thr``).
- ``keypoints_refined`` (K, ) bool: the joints the refiner placed (every
  joint but those kept at their input point).
- The instance score is the input's (``instance_score='heatmap'``: times
  the mean peak).

A pose without a present joint, whose image cannot be read, or whose
refined keypoints are not finite is not refined and is counted as a skip
under its reason (:func:`skip_message`): an instance of a 2D model or a
pose model keeps its input pose (``keypoint_refine_probs`` 0,
``keypoint_peaks`` 0, ``keypoints_refined`` all False); a results file's
entry is written back as it was, with ``not_refined``: the reason
(:func:`replace_entries`), so that the refined file has the input's
entries, in the input's order.
A COCO results entry (:func:`coco_result`) holds the refined keypoints and
scores as COCO's triplets, the input's instance score, and the fields of
:func:`refined_fields` (``keypoint_peaks``, ``input_absent`` and
``keypoints_refined`` as joint indices and, with a decision,
``keypoint_refine_probs``), as ``RefineInferencer``'s JSON does.
"""
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from posefix_mm.datasets.coco_results import coco_entry, present_joints
from posefix_mm.models.heads.refine_decoding import KEYPOINT_SCORE_MODES
from posefix_mm.utils.messages import few

#: the score rules of :func:`keypoint_scores` and :func:`instance_score`,
#: the head's (one definition)
SCORE_MODES = KEYPOINT_SCORE_MODES


class Refined(NamedTuple):
    """One refined pose: its sample (``info``: the input pose as
    ``input_keypoints``, ``input_keypoint_scores``,
    ``input_keypoints_visible``; ``bbox_score``, ``img_id``, ...), the
    refined keypoints (K, 2) in image coordinates, the refiner's peaks
    (K, ), with a per-joint decision the refine probabilities (K, ), the
    joints kept at their input point (K, ) bool and the decision's cues
    (K, C) (``posefix_mm.models.heads.decision_cues``)."""
    info: dict
    keypoints: np.ndarray
    peaks: np.ndarray
    refine_probs: Optional[np.ndarray] = None
    kept: Optional[np.ndarray] = None
    cues: Optional[np.ndarray] = None

    @property
    def input_keypoints(self) -> np.ndarray:
        return self.info['input_keypoints'][0]

    @property
    def present(self) -> np.ndarray:
        """(K, ) bool: the input's present joints."""
        return self.info['input_keypoints_visible'][0] > 0

    @property
    def refined_joints(self) -> np.ndarray:
        """(K, ) bool: the joints the refiner placed."""
        if self.kept is None:
            return np.ones(len(self.peaks), bool)
        return ~np.asarray(self.kept, bool)


def _check_mode(name: str, value: str) -> None:
    if value not in SCORE_MODES:
        raise ValueError(f'{name} must be one of {SCORE_MODES}, got '
                         f'{value!r}')


def keypoint_scores(refined: Refined, mode: str = 'input') -> np.ndarray:
    """(K, ) scores of the refined joints (see the module's docstring)."""
    _check_mode('keypoint_score', mode)
    peaks = np.asarray(refined.peaks, np.float32)
    if mode == 'heatmap':
        return peaks
    return np.where(refined.present,
                    np.asarray(refined.info['input_keypoint_scores'],
                               np.float32), peaks)


def instance_score(refined: Refined, mode: str = 'input') -> float:
    """The refined pose's instance score (see the module's docstring)."""
    _check_mode('instance_score', mode)
    score = float(refined.info['bbox_score'][0])
    return score if mode == 'input' else score * float(
        np.mean(refined.peaks))


def _rounded(values) -> list:
    return [round(float(v), 4) for v in values]


def refined_fields(peaks, input_absent, keypoints_refined,
                   refine_probs=None) -> dict:
    """The refined fields of a pose as JSON (the one serialiser of results
    files and of ``RefineInferencer``'s JSON): ``keypoint_peaks`` and
    ``keypoint_refine_probs`` (when given) rounded to 4 decimals,
    ``input_absent`` and ``keypoints_refined`` as joint indices."""
    fields = dict(
        keypoint_peaks=_rounded(peaks),
        input_absent=np.flatnonzero(np.asarray(input_absent, bool)).tolist(),
        keypoints_refined=np.flatnonzero(
            np.asarray(keypoints_refined, bool)).tolist())
    if refine_probs is not None:
        fields['keypoint_refine_probs'] = _rounded(refine_probs)
    return fields


def coco_result(refined: Refined,
                keypoint_score: str = 'input',
                instance_score_mode: str = 'input') -> dict:
    """The COCO results entry of a refined pose (see the module's
    docstring; COCO's evaluation reads ``keypoints`` and ``score`` only)."""
    return coco_entry(
        refined.info['img_id'], refined.keypoints,
        keypoint_scores(refined, keypoint_score),
        instance_score(refined, instance_score_mode),
        **refined_fields(refined.peaks, ~refined.present,
                         refined.refined_joints, refined.refine_probs))


def to_coco_results(outputs: Sequence[Refined],
                    keypoint_score: str = 'input',
                    instance_score: str = 'input') -> List[dict]:
    """The COCO results entries of ``outputs``, in input (``id``) order."""
    _check_mode('keypoint_score', keypoint_score)
    _check_mode('instance_score', instance_score)
    return [
        coco_result(o, keypoint_score, instance_score)
        for o in sorted(outputs, key=lambda o: o.info['id'])
    ]


#: the field of an unrefined entry of a refined results file: why
NOT_REFINED = 'not_refined'


def _finite(value):
    """``value`` (JSON data) with NaN and infinities as None: strict JSON."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def replace_entries(entries: Sequence[dict], refined: Dict[int, dict],
                    reasons: Dict[int, str]) -> List[dict]:
    """A refined results file that replaces its input entry for entry: for
    each of ``entries`` (the input file, in order) its refined entry
    (``refined``: by entry index), or the entry unchanged with
    ``not_refined``, the reason it was not refined (``reasons``, by entry
    index); a NaN or an infinity it holds (a ``bbox`` of a file that has
    them) becomes null."""
    out = []
    for i, entry in enumerate(entries):
        if i in refined:
            out.append(refined[i])
        elif i in reasons:
            out.append(dict(_finite(entry), **{NOT_REFINED: reasons[i]}))
        else:  # an entry must never vanish silently
            raise ValueError(f'entry {i} is neither refined nor skipped')
    return out


def input_results(outputs: Sequence[Refined]) -> List[dict]:
    """The input entries of the refined samples, in the same order (a fair
    comparison: the same persons)."""
    return [
        coco_entry(o.info['img_id'], o.input_keypoints,
                   o.info['input_keypoint_scores'],
                   float(o.info['bbox_score'][0]))
        for o in sorted(outputs, key=lambda o: o.info['id'])
    ]


def write_back(keypoints: np.ndarray,
               scores: np.ndarray,
               outputs: Sequence[Refined],
               absent_score_thr: Optional[float] = None
               ) -> Dict[str, np.ndarray]:
    """The refined fields of N input poses, of which ``outputs`` (each with
    its ``instance_index``) were refined; the others keep the input (see
    the module's docstring).

    Args:
        keypoints (np.ndarray): (N, K, 2) the input poses.
        scores (np.ndarray): (N, K) their joint scores.
        outputs (Sequence[Refined]): the refined ones.
        absent_score_thr (float, optional): as the samples were made with
            (:func:`~posefix_mm.datasets.coco_results.present_joints`).

    Returns:
        dict: ``keypoints``, ``keypoint_scores``, ``keypoint_peaks``,
        ``input_keypoints``, ``input_keypoint_scores``, ``input_absent``,
        ``keypoints_refined`` and, when a refiner has a decision,
        ``keypoint_refine_probs``; (N, K[, 2]) arrays.
    """
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, *np.shape(
        keypoints)[-2:])
    scores = np.asarray(scores, np.float32).reshape(keypoints.shape[:2])
    fields = dict(
        keypoints=keypoints.copy(),
        keypoint_scores=scores.copy(),
        keypoint_peaks=np.zeros(scores.shape, np.float32),
        input_keypoints=keypoints.copy(),
        input_keypoint_scores=scores.copy(),
        input_absent=np.stack([
            ~present_joints(k, s, absent_score_thr)
            for k, s in zip(keypoints, scores)
        ]) if len(keypoints) else np.zeros(scores.shape, bool),
        keypoints_refined=np.zeros(scores.shape, bool))
    for output in outputs:
        i = output.info['instance_index']
        fields['keypoints'][i] = output.keypoints
        fields['keypoint_scores'][i] = keypoint_scores(output)
        fields['keypoint_peaks'][i] = output.peaks
        fields['keypoints_refined'][i] = output.refined_joints
        if output.refine_probs is not None:
            fields.setdefault('keypoint_refine_probs',
                              np.zeros(scores.shape, np.float32))
            fields['keypoint_refine_probs'][i] = output.refine_probs
    return fields


def skip_message(skipped: Counter,
                 missing: Sequence[str] = (),
                 unreadable: Sequence[str] = ()) -> str:
    """What was not refined and why, one line per reason (the first few
    missing and unreadable files named): the one skip report of every path.
    Empty when nothing was skipped."""
    if not skipped:
        return ''
    lines = [f'  {count} x {reason}' for reason, count in skipped.items()]
    if missing:
        lines.append(f'    missing: {few(missing)}')
    if unreadable:
        lines.append(f'    unreadable: {few(unreadable)}')
    return (f'{sum(skipped.values())} poses not refined:\n' +
            '\n'.join(lines))
