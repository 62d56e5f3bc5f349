"""The sampling of ``SynthesizePoseErrors``: the anchors a synthesized
joint is judged against, the draw of each joint's error type, and the
points of each type (PoseFix paper, section 4; the official code's
rules)."""
import numpy as np

from posefix_mm.utils.error_taxonomy import (GOOD, INVERSION, JITTER, KS_GOOD,
                                             KS_JITTER, MISS, NO_GT, SWAP)
from posefix_mm.utils.keypoint_similarity import ks_distance

KS_MISS_MAX = 0.1  # misses land between KS 0.5 and 0.1 of their anchor
OWN, MIRROR = 0, 1  # anchor slots; other persons' j, then their j', follow
_FAR = 1e12  # where invalid anchors are parked (pixels)


def build_anchors(keypoints, visible, flip_indices, others, others_visible):
    """Points a synthesized joint is judged against, for every joint j.

    Slot 0 is the person's own joint j, slot 1 its mirror joint j', then j
    of each overlapping person, then j' of each. A mirror joint annotated on
    the very point of j counts as absent: no point is closer to one than the
    other.

    Args:
        keypoints (np.ndarray): (K, 2) ground truth of the person.
        visible (np.ndarray): (K, ) bool, labelled joints.
        flip_indices (np.ndarray): (K, ) mirror joint of each joint.
        others (np.ndarray): (M, K, 2) overlapping persons.
        others_visible (np.ndarray): (M, K) bool.

    Returns:
        tuple: anchors (K, 2 + 2M, 2) and their validity (K, 2 + 2M).
    """
    has_mirror = flip_indices != np.arange(len(keypoints))
    mirror = keypoints[flip_indices]
    distinct = np.any(mirror != keypoints, axis=1)
    anchors = np.concatenate(
        [keypoints[None], mirror[None], others, others[:, flip_indices]])
    valid = np.concatenate([
        visible[None], (visible[flip_indices] & has_mirror & distinct)[None],
        others_visible, others_visible[:, flip_indices] & has_mirror
    ])
    return anchors.transpose(1, 0, 2), valid.T


def _choose(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn with the given weights, by inverse CDF.

    Args:
        weights (np.ndarray): (K, A) non-negative weights.
        u (np.ndarray): (K, N) uniforms in [0, 1).

    Returns:
        np.ndarray: (K, N) indices in [0, A); A - 1 where a row has no
        weight.
    """
    cdf = np.cumsum(weights, axis=1)
    picks = (u * cdf[:, -1:])[:, :, None] >= cdf[:, None, :]
    return np.minimum(picks.sum(-1), weights.shape[1] - 1)


def type_anchor_weights(valid: np.ndarray, miss_own_weight: float):
    """Where each error type is drawn around, and what it must be nearest.

    Args:
        valid (np.ndarray): (K, A) bool anchors of :func:`build_anchors`.
        miss_own_weight (float): weight of the own joint among miss anchors.

    Returns:
        tuple: weights (5, K, A) of the anchors a point of each type is
        drawn around, and target (5, K, A) bool, the anchors it must be
        nearer to than to every other anchor (none for a miss, which must
        keep away from all).
    """
    weights = np.zeros((5, ) + valid.shape)
    weights[(GOOD, JITTER), :, OWN] = 1
    weights[INVERSION, :, MIRROR] = 1
    weights[SWAP, :, 2:] = valid[:, 2:]
    weights[MISS] = valid
    weights[MISS, :, OWN] *= miss_own_weight
    target = weights > 0
    target[MISS] = False
    return weights, target


def structurally_feasible(valid: np.ndarray) -> np.ndarray:
    """(K, 5) bool: types a labelled joint can take given its anchors: an
    inversion needs a labelled mirror joint, a swap an overlapping person's
    labelled j or j'."""
    feasible = np.repeat(valid[:, OWN, None], 5, axis=1)
    feasible[:, INVERSION] &= valid[:, MIRROR]
    feasible[:, SWAP] &= valid[:, 2:].any(1)
    return feasible


def draw_types(probs: np.ndarray, feasible: np.ndarray, u: np.ndarray):
    """One error type per joint; infeasible types get probability 0 and the
    rest is renormalised.

    Args:
        probs (np.ndarray): (K, 5) table probabilities.
        feasible (np.ndarray): (K, 5) bool.
        u (np.ndarray): (K, ) uniforms.

    Returns:
        np.ndarray: (K, ) types; NO_GT where no type is feasible.
    """
    weights = probs * feasible
    types = _choose(weights, u[:, None])[:, 0]
    return np.where(weights.sum(1) > 0, types, NO_GT)


def sample_points(types, anchors, valid, radii, rand, miss_own_weight):
    """Candidates of each joint's error type and whether they obey its rule.

    good, jitter: nearer to its own joint than to every other anchor;
    inversion: nearer to the mirror joint than to every other anchor;
    swap: nearer to some overlapping person's j or j' than to the own j, j';
    miss: at least d_0.5 away from every anchor.

    Args:
        types (np.ndarray): (K, ) error type per joint (>= 0).
        anchors (np.ndarray): (K, A, 2), see :func:`build_anchors`.
        valid (np.ndarray): (K, A) bool.
        radii (np.ndarray): (K, 5, 2) [low, high) radius of each type.
        rand (dict): uniforms from ``SynthesizePoseErrors._draw``.
        miss_own_weight (float): weight of the own joint among miss anchors.

    Returns:
        tuple: points (K, N, 2) and ok (K, N) bool.
    """
    k_idx = np.arange(len(types))
    weights, target = type_anchor_weights(valid, miss_own_weight)
    weights, target = weights[types, k_idx], target[types, k_idx]
    # good, jitter, inversion: around one anchor; swap, miss: drawn
    center_idx = np.repeat(weights.argmax(1)[:, None], rand['anchor'].shape[1],
                           axis=1)
    drawn = (types == SWAP) | (types == MISS)
    if drawn.any():
        center_idx[drawn] = _choose(weights[drawn], rand['anchor'][drawn])
    centers = anchors[k_idx[:, None], center_idx]
    low, high = radii[k_idx, types, 0, None], radii[k_idx, types, 1, None]
    radius = low + rand['radius'][k_idx, types] * (high - low)
    angle = rand['angle'][k_idx, types]
    centers[..., 0] += radius * np.cos(angle)
    centers[..., 1] += radius * np.sin(angle)

    # invalid anchors parked far away: never nearest, never too close
    parked = np.where(valid[..., None], anchors, _FAR)
    diff = centers[:, :, None] - parked[:, None]
    dist = diff[..., 0]**2 + diff[..., 1]**2  # squared: same ordering
    nearest_target = np.where(target[:, None], dist, np.inf).min(-1)
    nearest_rival = np.where(target[:, None], np.inf, dist).min(-1)
    ok = nearest_target < nearest_rival
    miss = types == MISS
    ok[miss] = nearest_rival[miss] >= radii[miss, MISS, 0, None]**2
    return centers, ok


def fill_unlabeled(results: dict, policy: str, points: np.ndarray,
                   has_point: np.ndarray, box_u: np.ndarray):
    """Input points (K, 2) and visibility (K, ) of the joints that got no
    synthesized point, by ``policy`` (``SynthesizePoseErrors``'s
    ``unlabeled``): ``'omit'`` absent, ``'box'`` a uniform point
    (``box_u``) in the person's box, ``'prediction'`` the sample's
    ``pred_keypoints`` where present, else the box point."""
    if policy == 'omit':
        return points.copy(), has_point.astype(float)
    x1, y1, x2, y2 = results['bbox'][0]
    fill = np.array([x1, y1]) + box_u * np.array([x2 - x1, y2 - y1])
    if policy == 'prediction' and 'pred_keypoints' in results:
        pred_ok = results['pred_keypoints_visible'][0] > 0
        fill = np.where(pred_ok[:, None], results['pred_keypoints'][0],
                        fill)
    points = np.where(has_point[:, None], points, fill)
    return points, np.ones(len(points))


def synthesis_types(det: np.ndarray, anchors: np.ndarray, valid: np.ndarray,
                    area: float, sigmas: np.ndarray) -> np.ndarray:
    """The error type of each point as ``SynthesizePoseErrors`` places its
    errors: the nearest anchor within KS 0.5 decides (the own joint: good
    within KS 0.85, else jitter; the mirror joint: inversion; an
    overlapping person's joint or its mirror: swap); beyond KS 0.5 of every
    anchor, a miss. (Ronchi & Perona's labels, :func:`label_keypoints`,
    give the own joint priority, so an inversion near both joints of a
    narrow pair reads as a jitter there; the synthesis reads it as an
    inversion, and so must a fit of its tables.)

    Args:
        det (np.ndarray): (K, 2) points.
        anchors, valid: (K, A, 2) and (K, A), see ``build_anchors``.
        area (float): the person's box area.
        sigmas (np.ndarray): (K, ).
    """
    d_good, d_jitter = ks_distance(
        np.array([[KS_GOOD], [KS_JITTER]]), area, sigmas)
    dist = np.linalg.norm(anchors - det[:, None], axis=-1)
    dist = np.where(valid, dist, np.inf)
    nearest = dist.argmin(1)
    near = dist.min(1) < d_jitter
    types = np.select(
        [nearest == OWN, nearest == MIRROR], [
            np.where(dist[:, OWN] < d_good, GOOD, JITTER),
            np.full(len(det), INVERSION)
        ], SWAP)
    return np.where(near, types, MISS)
