"""Per-joint probabilities of the synthesized error types.

A table set is plain data:

* ``jitter``, ``miss``, ``inversion``, ``swap``, ``swap_crowded``: lists of
  ``[max_nv, probs]`` rows. ``probs`` has one probability per joint; the first
  row whose ``max_nv`` is ``None`` or >= nv (the number of labelled joints of
  the person) applies.
* ``crowded``: ``[[max_nv, min_overlap], ...]``: the person is crowded (and
  ``swap_crowded`` applies) if for any row nv <= max_nv and the number of
  overlapping persons >= min_overlap.

"good" takes what the other types leave. :data:`COCO_ERROR_TABLES` holds the
official PoseFix numbers for COCO's 17 keypoints (the authors' code).
:func:`derive_error_tables` makes a table set for another skeleton.
"""
import json
from typing import Dict, Optional, Sequence

import numpy as np

from posefix_mm.utils.error_taxonomy import INVERSION, JITTER, MISS, SWAP

_COCO_FACE, _COCO_UPPER, _COCO_LOWER = range(0, 5), range(5, 11), range(11, 17)
COCO_UPPER_BODY_IDS = tuple(range(0, 11))
COCO_LOWER_BODY_IDS = tuple(range(11, 17))
_TYPE_KEYS = ('jitter', 'miss', 'inversion', 'swap', 'swap_crowded')


def _per_joint(groups: Dict[Sequence[int], float]) -> list:
    probs = [None] * 17
    for ids, p in groups.items():
        for i in ids:
            probs[i] = p
    return probs


_NOSE_KNEES_ANKLES = (0, 13, 14, 15, 16)
_EYES_TO_WRISTS = tuple(range(1, 11))
_HIPS = (11, 12)
_SHOULDERS_ANKLES = (5, 6, 15, 16)
_MISS_OTHERS = (7, 8, 9, 10, 11, 12, 13, 14)

COCO_ERROR_TABLES = dict(
    jitter=[
        [10, _per_joint({_NOSE_KNEES_ANKLES: .15, _EYES_TO_WRISTS: .20,
                         _HIPS: .25})],
        [None, _per_joint({_NOSE_KNEES_ANKLES: .10, _EYES_TO_WRISTS: .15,
                           _HIPS: .20})],
    ],
    miss=[
        [5, _per_joint({_COCO_FACE: .15, _SHOULDERS_ANKLES: .20,
                        _MISS_OTHERS: .25})],
        [10, _per_joint({_COCO_FACE: .10, _SHOULDERS_ANKLES: .13,
                         _MISS_OTHERS: .15})],
        [None, _per_joint({_COCO_FACE: .02, _SHOULDERS_ANKLES: .05,
                           _MISS_OTHERS: .10})],
    ],
    inversion=[[None, _per_joint({_COCO_FACE: .01, _COCO_UPPER: .03,
                                  _COCO_LOWER: .06})]],
    swap=[[None, _per_joint({_COCO_FACE: .01, _COCO_UPPER: .06,
                             _COCO_LOWER: .03})]],
    swap_crowded=[[None, _per_joint({_COCO_FACE: .02, _COCO_UPPER: .15,
                                     _COCO_LOWER: .10})]],
    crowded=[[10, 1], [15, 3]],
)


def tables_num_keypoints(tables: dict) -> int:
    """K of a table set: the most common length of its probability rows."""
    lengths = [
        len(probs) for key in _TYPE_KEYS for _, probs in tables.get(key, [])
    ]
    if not lengths:
        raise ValueError('error tables hold no probability rows')
    return max(set(lengths), key=lengths.count)


def validate_error_tables(tables: dict,
                          num_keypoints: Optional[int] = None) -> None:
    """Raise ValueError naming the bad field of a table set.

    Args:
        tables (dict): the table set.
        num_keypoints (int, optional): K expected; default: the most common
            row length.
    """
    for key in (*_TYPE_KEYS, 'crowded'):
        if key not in tables:
            raise ValueError(f'error tables lack "{key}"')
    if num_keypoints is None:
        num_keypoints = tables_num_keypoints(tables)
    for key in _TYPE_KEYS:
        rows = tables[key]
        if not rows or rows[-1][0] is not None:
            raise ValueError(f'error tables "{key}": the last row must have '
                             f'max_nv None, got {rows}')
        for max_nv, probs in rows:
            if len(probs) != num_keypoints:
                raise ValueError(
                    f'error tables "{key}" (max_nv {max_nv}): {len(probs)} '
                    f'probabilities for {num_keypoints} keypoints')
            if min(probs) < 0 or max(probs) > 1:
                raise ValueError(f'error tables "{key}" (max_nv {max_nv}): '
                                 f'probabilities outside [0, 1]: {probs}')
    # every person a table set can meet: each number of labelled joints,
    # crowded or not
    for nv in range(1, num_keypoints + 1):
        for overlap in (0, num_keypoints):
            probs = joint_type_probabilities(tables, nv, overlap)
            if np.any(probs[:, 0] < -1e-9):
                raise ValueError(
                    'error tables: error probabilities of a joint sum to '
                    f'more than 1 for a person with {nv} labelled joints'
                    f'{" (crowded)" if overlap else ""}: '
                    f'{np.round(1 - probs[:, 0], 3).tolist()}')


def load_error_tables(path: str) -> dict:
    """A table set from a JSON file: the tables themselves, or what
    ``tools/fit_error_tables.py`` writes (their ``error_tables``).
    Validated; errors name the file."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'error tables {path}: cannot read a JSON file '
                         f'({e})') from None
    tables = data.get('error_tables', data) if isinstance(data, dict) \
        else data
    if not isinstance(tables, dict):
        raise ValueError(f'error tables {path}: expected a JSON object')
    try:
        validate_error_tables(tables)
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from None
    return tables


def row_at(rows: list, nv: int) -> list:
    """The probabilities of the row that applies to ``nv``."""
    for max_nv, probs in rows:
        if max_nv is None or nv <= max_nv:
            return list(probs)
    raise AssertionError('validated tables end with a max_nv None row')


def joint_type_probabilities(tables: dict, nv: int,
                             overlap: int) -> np.ndarray:
    """Probabilities of (good, jitter, inversion, swap, miss) per joint.

    Args:
        tables (dict): a validated table set.
        nv (int): number of labelled joints of the person.
        overlap (int): number of other persons whose box overlaps.

    Returns:
        np.ndarray: (K, 5), rows sum to 1.
    """
    crowded = any(nv <= max_nv and overlap >= min_overlap
                  for max_nv, min_overlap in tables['crowded'])
    probs = np.empty((len(tables['jitter'][0][1]), 5))
    probs[:, JITTER] = row_at(tables['jitter'], nv)
    probs[:, MISS] = row_at(tables['miss'], nv)
    probs[:, INVERSION] = row_at(tables['inversion'], nv)
    probs[:, SWAP] = row_at(tables['swap_crowded' if crowded else 'swap'],
                            nv)
    probs[:, 0] = 1 - probs[:, 1:].sum(1)
    return probs


def derive_error_tables(num_keypoints: int,
                        upper_body_ids: Sequence[int],
                        lower_body_ids: Sequence[int],
                        reference: Optional[dict] = None) -> dict:
    """Error tables for a skeleton without measured statistics.

    Each probability of an upper-body joint is the mean of the reference
    (COCO) values over COCO's upper-body joints (0-10), of a lower-body joint
    the mean over COCO's lower-body joints (11-16), of any other joint the
    mean over all 17. The nv thresholds are scaled by K / 17 (rounded).

    Args:
        num_keypoints (int): K.
        upper_body_ids (Sequence[int]): from the dataset metainfo.
        lower_body_ids (Sequence[int]): from the dataset metainfo.
        reference (dict, optional): tables to derive from (17 keypoints,
            COCO order). Defaults to :data:`COCO_ERROR_TABLES`.
    """
    reference = reference or COCO_ERROR_TABLES
    scale = num_keypoints / 17

    def scaled(nv):
        return None if nv is None else max(1, round(nv * scale))

    def derive_row(probs):
        probs = np.asarray(probs)
        out = np.full(num_keypoints, probs.mean())
        out[list(upper_body_ids)] = probs[list(COCO_UPPER_BODY_IDS)].mean()
        out[list(lower_body_ids)] = probs[list(COCO_LOWER_BODY_IDS)].mean()
        return out.tolist()

    tables = {
        key: [[scaled(nv), derive_row(p)] for nv, p in reference[key]]
        for key in _TYPE_KEYS
    }
    tables['crowded'] = [[scaled(nv), o] for nv, o in reference['crowded']]
    return tables
