"""Read and check COCO keypoint results files (any method's output)."""
import json
import math
from typing import List, Optional, Tuple

import numpy as np

PERSON_CATEGORY = 1
REQUIRED_FIELDS = dict(
    image_id=(int, ), category_id=(int, ), keypoints=(list, ),
    score=(int, float))


class ResultsFormatError(ValueError):
    """A malformed results file; the message names the entry and field."""


def _check_entry(i: int, entry, num_keypoints: int) -> None:
    if not isinstance(entry, dict):
        raise ResultsFormatError(
            f'entry {i}: expected an object, got {type(entry).__name__}')
    for field, types in REQUIRED_FIELDS.items():
        if field not in entry:
            raise ResultsFormatError(f'entry {i}: missing field "{field}"')
        value = entry[field]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ResultsFormatError(
                f'entry {i}: field "{field}" must be '
                f'{"/".join(t.__name__ for t in types)}, got '
                f'{type(value).__name__}')
    kpts = entry['keypoints']
    if len(kpts) != 3 * num_keypoints:
        raise ResultsFormatError(
            f'entry {i}: field "keypoints" has {len(kpts)} values, expected '
            f'3 x {num_keypoints} = {3 * num_keypoints}')
    for j, v in enumerate(kpts):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ResultsFormatError(
                f'entry {i}: field "keypoints"[{j}] is not a number: {v!r}')
        if not math.isfinite(v):
            raise ResultsFormatError(
                f'entry {i}: field "keypoints"[{j}] is not finite: {v}')
    if not math.isfinite(entry['score']):
        raise ResultsFormatError(
            f'entry {i}: field "score" is not finite: {entry["score"]}')


def load_coco_results(path: str, num_keypoints: int = 17) -> List[dict]:
    """Load a COCO keypoint results list and check every entry.

    Each entry needs ``image_id`` (int), ``category_id`` (int),
    ``keypoints`` (3K finite numbers: x, y, score) and ``score`` (finite
    number). Other fields are kept.

    Raises:
        ResultsFormatError: not JSON, not a non-empty list, or an entry
            with a missing or wrong-typed field, a wrong keypoint count, NaN
            or inf; the message names the entry index and field.
    """
    try:
        with open(path) as f:
            results = json.load(f)
    except json.JSONDecodeError as e:
        raise ResultsFormatError(f'{path}: not JSON ({e})') from e
    if not isinstance(results, list):
        raise ResultsFormatError(
            f'{path}: expected a list of results, got '
            f'{type(results).__name__}')
    if not results:
        raise ResultsFormatError(f'{path}: the results list is empty')
    for i, entry in enumerate(results):
        try:
            _check_entry(i, entry, num_keypoints)
        except ResultsFormatError as e:
            raise ResultsFormatError(f'{path}: {e}') from None
    return results


def keypoint_box(keypoints: np.ndarray,
                 present: np.ndarray,
                 extend: float = 1.2,
                 min_size: float = 20.) -> np.ndarray:
    """The official PoseFix test box: the extent of the input keypoints,
    scaled by ``extend`` about its centre, each side at least ``min_size``.

    Args:
        keypoints (np.ndarray): (K, 2).
        present (np.ndarray): (K, ) bool, joints that count.

    Returns:
        np.ndarray: (4, ) xyxy.
    """
    pts = keypoints[present] if present.any() else keypoints
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    size = np.maximum((hi - lo) * extend, min_size)
    return np.concatenate([center - size / 2, center + size / 2])


def input_pose_sample(keypoints: np.ndarray,
                      scores: Optional[np.ndarray] = None,
                      score: float = 1.0,
                      present: Optional[np.ndarray] = None,
                      box_extend: float = 1.2,
                      min_box_size: float = 20.,
                      **fields) -> dict:
    """A PoseFix test sample from an input pose, as the official code makes
    one from a results entry: box from the keypoints (:func:`keypoint_box`),
    every present joint rendered, no ground truth.

    Args:
        keypoints (np.ndarray): (K, 2) image coordinates.
        scores (np.ndarray, optional): (K, ) joint scores (kept for the
            output). Default ones.
        score (float): the instance score.
        present (np.ndarray, optional): (K, ) bool, joints to render and to
            build the box from. Default all.
        **fields: ``id``, ``img_id``, ``img_path`` / ``img``, metainfo...

    Returns:
        dict: the data info PoseFix's test pipeline takes.
    """
    keypoints = np.asarray(keypoints, np.float32)
    num_kpt = len(keypoints)
    if present is None:
        present = np.ones(num_kpt, bool)
    if scores is None:
        scores = np.ones(num_kpt, np.float32)
    box = keypoint_box(keypoints, present, box_extend, min_box_size)
    return dict(
        category_id=1,
        bbox=box[None].astype(np.float32),
        bbox_score=np.array([score], np.float32),
        input_keypoints=keypoints[None],
        input_keypoints_visible=present[None].astype(np.float32),
        input_keypoint_scores=np.asarray(scores, np.float32),
        keypoints=np.zeros((1, num_kpt, 2), np.float32),
        keypoints_visible=np.zeros((1, num_kpt), np.float32),
        **fields)


def split_keypoints(entry: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(K, 2) coordinates and (K, ) scores of a results entry."""
    kpts = np.asarray(entry['keypoints'], np.float32).reshape(-1, 3)
    return kpts[:, :2], kpts[:, 2]
