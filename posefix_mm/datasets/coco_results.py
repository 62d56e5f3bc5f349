"""Read and check COCO keypoint results files (any method's output)."""
import json
import math
from typing import List, Optional, Sequence, Tuple

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
        if not _finite(v):
            raise ResultsFormatError(f'entry {i}: field "keypoints"[{j}] is '
                                     f'not finite: {_shown(v)}')
    if 'bbox' in entry:
        bbox = entry['bbox']
        if not isinstance(bbox, list) or len(bbox) != 4 or any(
                isinstance(v, bool) or not isinstance(v, (int, float))
                or isinstance(v, int) and not _finite(v) for v in bbox):
            raise ResultsFormatError(
                f'entry {i}: field "bbox" must be a list of 4 numbers '
                f'[x, y, w, h], got {_shown(bbox)}')
    if not _finite(entry['score']):
        raise ResultsFormatError(
            f'entry {i}: field "score" is not finite: '
            f'{_shown(entry["score"])}')


def _shown(value) -> str:
    """A value for a message, cut short (a JSON number can have thousands
    of digits)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        return 'a number of thousands of digits'
    return text if len(text) <= 40 else f'{text[:30]}... ({len(text)} chars)'


def _finite(value) -> bool:
    """A finite number that a float can hold (JSON integers can be larger:
    10**400 is not one)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def load_coco_results(path: str, num_keypoints: int = 17) -> List[dict]:
    """Load a COCO keypoint results list and check every entry.

    Each entry needs ``image_id`` (int), ``category_id`` (int),
    ``keypoints`` (3K finite numbers: x, y, score) and ``score`` (finite
    number); ``bbox``, when there, is a list of 4 numbers ``[x, y, w, h]``
    (one that is not finite or has no area is not a format error but an
    entry that cannot be refined, see :func:`input_box`). Other fields are
    kept.

    Raises:
        ResultsFormatError: not JSON, not a non-empty list, or an entry
            with a missing or wrong-typed field, a wrong keypoint count, NaN
            or inf; the message names the entry index and field.
    """
    try:
        with open(path, encoding='utf-8-sig') as f:
            results = json.load(f)
    except ValueError as e:  # not JSON, not UTF-8, numbers beyond limits
        raise ResultsFormatError(
            f'{path}: not a UTF-8 JSON file ({e})') from e
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


BOX_SOURCES = ('auto', 'keypoints', 'bbox', 'union')


class UnusableEntry(ValueError):
    """An input pose that cannot be refined (no box can be made for it); the
    message is the reason, counted as a skip by the callers."""


def present_joints(keypoints: np.ndarray,
                   scores: Optional[np.ndarray] = None,
                   absent_score_thr: Optional[float] = None) -> np.ndarray:
    """Which input joints are given: the one rule for every refinement path.

    A joint is *absent* when it is at (0, 0) exactly (how many estimators
    write a joint they did not find), or, with ``absent_score_thr``, when
    its score is at or below that threshold. Absent joints take no part in
    the box, get an empty input heatmap channel, and are estimated by the
    refiner from the image alone.

    Args:
        keypoints (np.ndarray): (K, 2).
        scores (np.ndarray, optional): (K, ) joint scores.
        absent_score_thr (float, optional): default None: only exact zeros
            count as absent.

    Returns:
        np.ndarray: (K, ) bool.
    """
    present = ~(np.asarray(keypoints) == 0).all(-1)
    if absent_score_thr is not None and scores is not None:
        present &= np.asarray(scores) > absent_score_thr
    return present


def keypoint_box(keypoints: np.ndarray,
                 present: np.ndarray,
                 extend: float = 1.2,
                 min_size: float = 20.) -> np.ndarray:
    """The official PoseFix test box: the extent of the present input
    keypoints, scaled by ``extend`` about its centre, each side at least
    ``min_size``.

    Args:
        keypoints (np.ndarray): (K, 2).
        present (np.ndarray): (K, ) bool, joints that count (at least one).

    Returns:
        np.ndarray: (4, ) xyxy.
    """
    if not present.any():
        raise UnusableEntry('no present joint to make a box from')
    pts = keypoints[present]
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    size = np.maximum((hi - lo) * extend, min_size)
    return np.concatenate([center - size / 2, center + size / 2])


def input_box(keypoints: np.ndarray,
              present: np.ndarray,
              bbox: Optional[Sequence[float]] = None,
              box_source: str = 'auto',
              extend: float = 1.2,
              min_size: float = 20.) -> np.ndarray:
    """The box a pose is refined in (before the usual 1.25 padding).

    Args:
        keypoints (np.ndarray): (K, 2).
        present (np.ndarray): (K, ) bool, see :func:`present_joints`.
        bbox (Sequence[float], optional): a given box, ``[x, y, w, h]`` as
            COCO results write it.
        box_source (str): ``'auto'`` (the given box when there is one, else
            the keypoints), ``'keypoints'`` (:func:`keypoint_box`, the
            official code), ``'bbox'`` (the given box; none is an unusable
            entry) or ``'union'`` (both, where there is a given box).

    Returns:
        np.ndarray: (4, ) xyxy.

    Raises:
        UnusableEntry: a given box that is not finite or has no area, no
            given box with ``'bbox'``, or no present joint where the box
            comes from the keypoints.
    """
    if box_source not in BOX_SOURCES:
        raise ValueError(
            f'box_source must be one of {BOX_SOURCES}, got {box_source!r}')
    given = None
    if bbox is not None and box_source != 'keypoints':
        x, y, w, h = np.asarray(bbox, np.float64)
        if not np.isfinite([x, y, w, h]).all() or w <= 0 or h <= 0:
            raise UnusableEntry('bbox not finite or without area')
        given = np.array([x, y, x + w, y + h])
    if box_source == 'bbox' and given is None:
        raise UnusableEntry('no bbox (--box-source bbox)')
    if given is not None and box_source in ('auto', 'bbox'):
        return given
    box = keypoint_box(keypoints, present, extend, min_size)
    if given is None:
        return box
    return np.concatenate([np.minimum(box[:2], given[:2]),
                           np.maximum(box[2:], given[2:])])


def input_pose_sample(keypoints: np.ndarray,
                      scores: Optional[np.ndarray] = None,
                      score: float = 1.0,
                      bbox: Optional[Sequence[float]] = None,
                      box_source: str = 'auto',
                      absent_score_thr: Optional[float] = None,
                      box_extend: float = 1.2,
                      min_box_size: float = 20.,
                      **fields) -> dict:
    """A PoseFix test sample from an input pose, as the official code makes
    one from a results entry, with absent joints left out
    (:func:`present_joints`) and the box of :func:`input_box`; no ground
    truth.

    Args:
        keypoints (np.ndarray): (K, 2) image coordinates.
        scores (np.ndarray, optional): (K, ) joint scores (kept for the
            output). Default ones.
        score (float): the instance score.
        bbox (Sequence[float], optional): a given ``[x, y, w, h]`` box.
        box_source (str): see :func:`input_box`.
        absent_score_thr (float, optional): see :func:`present_joints`.
        **fields: ``id``, ``img_id``, ``img_path`` / ``img``, metainfo...

    Returns:
        dict: the data info PoseFix's test pipeline takes.

    Raises:
        UnusableEntry: no box can be made (see :func:`input_box`), or it has
            no extent in float32 (joints at 1e9).
    """
    keypoints = np.asarray(keypoints, np.float32)
    num_kpt = len(keypoints)
    if scores is None:
        scores = np.ones(num_kpt, np.float32)
    present = present_joints(keypoints, scores, absent_score_thr)
    box = input_box(keypoints, present, bbox, box_source, box_extend,
                    min_box_size).astype(np.float32)
    # joints far out (1e9) leave a box of no width in float32, which the
    # pipeline could not crop
    if not (box[2:] > box[:2]).all():
        raise UnusableEntry('person box without extent at float32 precision '
                            '(coordinates too large)')
    return dict(
        category_id=PERSON_CATEGORY,
        bbox=box[None],
        bbox_score=np.array([score], np.float32),
        input_keypoints=keypoints[None],
        input_keypoints_visible=present[None].astype(np.float32),
        input_keypoint_scores=np.asarray(scores, np.float32),
        keypoints=np.zeros((1, num_kpt, 2), np.float32),
        keypoints_visible=np.zeros((1, num_kpt), np.float32),
        **fields)


def coco_entry(image_id,
               keypoints: np.ndarray,
               scores: Optional[np.ndarray] = None,
               score: float = 1.0,
               **extra) -> dict:
    """A COCO keypoint results entry of a person.

    Args:
        image_id (int): the image.
        keypoints (np.ndarray): (K, 2) image coordinates.
        scores (np.ndarray, optional): (K, ) joint scores; default ones.
        score (float): the instance score.
        **extra: further fields (e.g. ``refine_probs``).
    """
    keypoints = np.asarray(keypoints, np.float64)
    if scores is None:
        scores = np.ones(len(keypoints))
    flat = np.concatenate([keypoints, np.asarray(scores)[:, None]], 1)
    return dict(
        image_id=int(image_id),
        category_id=PERSON_CATEGORY,
        keypoints=[float(v) for v in flat.ravel()],
        score=float(score),
        **extra)


def split_keypoints(entry: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(K, 2) coordinates and (K, ) scores of a results entry."""
    kpts = np.asarray(entry['keypoints'], np.float32).reshape(-1, 3)
    return kpts[:, :2], kpts[:, 2]
