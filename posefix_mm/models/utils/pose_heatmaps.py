"""Tensor helpers of PoseFix: read and render the input pose, soft-argmax,
flip."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor


def read_input_pose(data_samples: Sequence,
                    like: Tensor,
                    flip: bool = False) -> Tuple[Tensor, Tensor]:
    """The input pose that ``PackPoseFixInputs`` packed into each sample's
    ``gt_instances``: (B, K, 2) input-image (crop) coordinates and (B, K)
    visibility, as tensors of ``like``'s dtype and device.

    ``flip``: the pose as seen in the horizontally mirrored crop (x -> W - 1
    - x, mirror joints swapped), to go with a flipped image.
    """
    kpts = torch.as_tensor(
        np.stack([d.gt_instances.input_keypoints[0] for d in data_samples]),
        dtype=like.dtype, device=like.device)
    vis = torch.as_tensor(
        np.stack([d.gt_instances.input_keypoints_visible[0]
                  for d in data_samples]),
        dtype=like.dtype, device=like.device)
    if flip:
        meta = data_samples[0].metainfo
        return flip_input_pose(kpts, vis, meta['flip_indices'],
                               meta['input_size'][0])
    return kpts, vis


def read_input_scores(data_samples: Sequence,
                      like: Tensor) -> Optional[Tensor]:
    """(B, K) the input's joint scores that ``PackPoseFixInputs`` packed
    (``gt_instances.input_keypoint_scores``), or None when a sample has
    none (synthesized inputs)."""
    scores = [
        d.gt_instances.get('input_keypoint_scores') for d in data_samples
    ]
    if any(s is None for s in scores):
        return None
    return torch.as_tensor(
        np.stack([s[0] for s in scores]), dtype=like.dtype,
        device=like.device)


def flip_input_pose(keypoints: Tensor, visible: Tensor,
                    flip_indices: Sequence[int],
                    width: float) -> Tuple[Tensor, Tensor]:
    """An input pose ((B, K, 2) pixel coordinates, (B, K) visibility) as
    seen in the horizontally mirrored image of ``width`` pixels: x -> width
    - 1 - x, mirror joints swapped."""
    flip_indices = list(flip_indices)
    return (unflip_coordinates(keypoints, flip_indices, width),
            visible[:, flip_indices])


def render_gaussian_heatmaps(keypoints: Tensor,
                             visible: Tensor,
                             size: Tuple[int, int],
                             sigma: float) -> Tensor:
    """One Gaussian per joint: exp(-((x - x_k)^2 + (y - y_k)^2) / 2 sigma^2),
    zero beyond 3 sigma in x or in y (as MMPose's Gaussian targets).

    The truncation matters for speed: the far tails of an untruncated
    Gaussian underflow into denormal floats, which made the stem convolution
    5x slower on x86 CPUs (benchmarks/bench_model.py).

    Args:
        keypoints (Tensor): (B, K, 2) pixel coordinates (x, y).
        visible (Tensor): (B, K); joints with visible <= 0 get zero maps.
        size (tuple): (w, h) of the maps.
        sigma (float): in pixels.

    Returns:
        Tensor: (B, K, h, w), peak 1.
    """
    w, h = size
    xs = torch.arange(w, dtype=keypoints.dtype, device=keypoints.device)
    ys = torch.arange(h, dtype=keypoints.dtype, device=keypoints.device)
    gx = _truncated_gaussian(xs - keypoints[..., 0:1], sigma)
    gy = _truncated_gaussian(ys - keypoints[..., 1:2], sigma)
    gx = gx * (visible > 0).to(gx.dtype)[..., None]
    # separable: (B, K, h, 1) * (B, K, 1, w)
    return gy[..., :, None] * gx[..., None, :]


def _truncated_gaussian(offsets: Tensor, sigma: float) -> Tensor:
    values = torch.exp(-offsets**2 / (2 * sigma**2))
    return torch.where(offsets.abs() <= 3 * sigma, values,
                       values.new_zeros(()))


def soft_argmax(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """Softmax over each map and its expected position.

    Args:
        logits (Tensor): (B, K, H, W).

    Returns:
        tuple: coordinates (B, K, 2) as (x, y) in map pixels, and the
        probabilities (B, K, H, W).
    """
    b, k, h, w = logits.shape
    probs = logits.flatten(2).softmax(-1).view(b, k, h, w)
    xs = torch.arange(w, dtype=probs.dtype, device=probs.device)
    ys = torch.arange(h, dtype=probs.dtype, device=probs.device)
    x = (probs.sum(2) * xs).sum(-1)
    y = (probs.sum(3) * ys).sum(-1)
    return torch.stack([x, y], -1), probs


def unflip_coordinates(coords: Tensor, flip_indices: Sequence[int],
                       width: float) -> Tensor:
    """Coordinates predicted on a flipped image, back in the original: x ->
    width - 1 - x and mirror joints swapped.

    Args:
        coords (Tensor): (B, K, 2) pixel coordinates of the flipped image.
        flip_indices (Sequence[int]): mirror joint of each joint.
        width (float): image width in the coordinates' pixel units.
    """
    coords = coords[:, list(flip_indices)].clone()
    coords[..., 0] = width - 1 - coords[..., 0]
    return coords
