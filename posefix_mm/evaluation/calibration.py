"""Choosing the per-joint decision's threshold on real inputs with ground
truth (a user's validation results, or held-out training images)."""
import os.path as osp
from typing import Dict, Optional, Sequence

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


def calibrated_config(config: str, decision_thr: float,
                      source: Optional[str] = None) -> str:
    """The text of a config that is ``config`` with ``decision_thr`` (for
    ``tools/refine.py``, ``RefineInferencer(refiner=...)`` and
    ``PoseRefiner``)."""
    lines = [f'# {config} with the per-joint decision threshold chosen']
    if source:
        lines[0] += f' on {source}'
    lines += [
        f'_base_ = [{osp.abspath(config)!r}]',
        f'model = dict(test_cfg=dict(decision_thr={decision_thr!r}))', ''
    ]
    return '\n'.join(lines)
