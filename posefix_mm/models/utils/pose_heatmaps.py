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


def pose_maps_conv(conv: torch.nn.Conv2d, keypoints: Tensor, visible: Tensor,
                   size: Tuple[int, int], sigma: float) -> Tensor:
    """The response of ``conv``'s last K input channels to the input pose's
    Gaussian maps (bias excluded), without rendering the maps: equal to
    ``F.conv2d(render_gaussian_heatmaps(keypoints, visible, size, sigma),
    conv.weight[:, -K:], stride=conv.stride, padding=conv.padding)``.

    Each map is separable, g_y(y) g_x(x), so the convolution is two small
    contractions: over the kernel's rows with g_y sampled at each output
    row's receptive rows, then over the joints and the kernel's columns
    with g_x likewise (a batched matmul). At 256x192 with a 7x7 stride-2
    stem this is 7x fewer multiply-accumulates than convolving the 17
    rendered maps (benchmarks/bench_model.py).

    Args:
        conv (nn.Conv2d): zero padding, no dilation, one group.
        keypoints (Tensor): (B, K, 2) pixel coordinates (x, y).
        visible (Tensor): (B, K); joints with visible <= 0 contribute
            nothing.
        size (tuple): (w, h) of the maps.
        sigma (float): in pixels.

    Returns:
        Tensor: (B, C_out, h_out, w_out).
    """
    if conv.dilation != (1, 1) or conv.groups != 1 or \
            conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
        raise ValueError('pose_maps_conv: needs a convolution with numeric '
                         'zero padding, no dilation and one group')
    w, h = size
    b, k = keypoints.shape[:2]
    kh, kw = conv.kernel_size

    def receptive(length, kernel, stride, padding):
        # (out, kernel) input positions of each output position, and
        # whether they fall inside the map (zero padding outside)
        n_out = (length + 2 * padding - kernel) // stride + 1
        pos = (torch.arange(n_out, device=keypoints.device) * stride -
               padding)[:, None] + torch.arange(kernel,
                                                device=keypoints.device)
        return pos.to(keypoints.dtype), (pos >= 0) & (pos < length)

    rows, rows_in = receptive(h, kh, conv.stride[0], conv.padding[0])
    cols, cols_in = receptive(w, kw, conv.stride[1], conv.padding[1])
    gy = _truncated_gaussian(rows - keypoints[..., 1, None, None], sigma)
    gy = gy * rows_in.to(gy.dtype)
    gx = _truncated_gaussian(cols - keypoints[..., 0, None, None], sigma)
    gx = gx * (cols_in.to(gx.dtype) *
               (visible > 0).to(gx.dtype)[..., None, None])
    # gy: (B, K, h_out, kh), gx: (B, K, w_out, kw)
    weight = conv.weight[:, -k:]  # (C_out, K, kh, kw)
    c_out, h_out, w_out = weight.shape[0], gy.shape[2], gx.shape[2]
    # over the kernel's rows: (B, K, h_out, kh) @ (K, kh, C_out * kw)
    t = gy @ weight.permute(1, 2, 0, 3).reshape(k, kh, c_out * kw)
    t = t.view(b, k, h_out, c_out, kw).permute(0, 3, 2, 1, 4).reshape(
        b, c_out * h_out, k * kw)
    # over the joints and the kernel's columns
    out = t @ gx.permute(0, 1, 3, 2).reshape(b, k * kw, w_out)
    return out.view(b, c_out, h_out, w_out)


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
