"""Keypoint similarity: the per-joint term of COCO's OKS, and the distance
at which it takes a value."""
import numpy as np
import torch


def keypoint_similarity(sq_dist, area, sigmas):
    """KS = exp(-d^2 / (2 * area * (2 * sigma)^2)), as in COCO's OKS.

    Works on numpy arrays and, all three alike, on torch tensors.

    Args:
        sq_dist (np.ndarray | Tensor): squared distances, (..., K).
        area (float | np.ndarray): object area, broadcastable to (..., K).
        sigmas (np.ndarray | Tensor): per-joint sigmas, (K, ).
    """
    if isinstance(sq_dist, torch.Tensor):
        return torch.exp(-sq_dist / (2 * area * (2 * sigmas)**2))
    variances = (2 * np.asarray(sigmas))**2
    return np.exp(-sq_dist / (2 * np.asarray(area) * variances))


def object_keypoint_similarity(keypoints: np.ndarray, gt: np.ndarray,
                               visible: np.ndarray, area,
                               sigmas: np.ndarray):
    """COCO's OKS: the mean KS over the ground truth's visible joints.

    Args:
        keypoints (np.ndarray): (..., K, 2) poses to compare.
        gt (np.ndarray): (K, 2) ground truth.
        visible (np.ndarray): (K, ) bool, its labelled joints.
        area (float): its area.
        sigmas (np.ndarray): (K, ).

    Returns:
        np.ndarray: (...) OKS values.
    """
    sq_dist = ((np.asarray(keypoints) - gt)**2).sum(-1)
    return keypoint_similarity(sq_dist, area, sigmas)[..., visible].mean(-1)


def ks_distance(k, area: float, sigmas: np.ndarray) -> np.ndarray:
    """Distance at which KS equals ``k``: sqrt(-2 area (2 sigma)^2 ln k).

    Args:
        k (float | np.ndarray): keypoint similarity in (0, 1], broadcastable
            against ``sigmas`` (e.g. (T, 1) for T thresholds).
        area (float): object area.
        sigmas (np.ndarray): per-joint sigmas, (K, ).

    Returns:
        np.ndarray: distances, ``k`` and ``sigmas`` broadcast, e.g. (K, ).
    """
    if np.any(np.asarray(k) <= 0) or np.any(np.asarray(k) > 1):
        raise ValueError(f'k must be in (0, 1], got {k}')
    return np.sqrt(-2 * area * (2 * np.asarray(sigmas))**2 * np.log(k))
