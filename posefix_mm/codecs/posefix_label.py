"""The fine target of PoseFix: a bilinear one-hot heatmap per joint plus its
coordinates (paper section 5.2)."""
from typing import Optional, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class PoseFixLabel(BaseKeypointCodec):
    """Encode keypoints into PoseFix's fine targets and decode coordinates.

    Heatmap coordinates are input-image coordinates divided by the stride
    (``input_size / heatmap_size``): heatmap pixel (i, j) sits at input pixel
    (i * stride_x, j * stride_y). The target of a joint at heatmap position
    (x, y) puts mass (1 - fx)(1 - fy), fx (1 - fy), (1 - fx) fy and fx fy on
    the 4 neighbouring grid points (fx, fy the fractional parts): it sums to 1
    and its expectation is exactly (x, y), so soft-argmax can reach it.

    Encoded items:

        - heatmaps (np.ndarray): (K, H, W) bilinear one-hot targets
        - keypoint_labels (np.ndarray): (N, K, 2) coordinates in heatmap
          units (the paper's L1 is in heatmap units)
        - keypoint_weights (np.ndarray): (N, K) 1 for a visible joint inside
          the heatmap, else 0

    Args:
        input_size (tuple): input image size (w, h).
        heatmap_size (tuple): heatmap size (w, h).
    """

    label_mapping_table = dict(
        keypoint_labels='keypoint_labels',
        keypoint_weights='keypoint_weights')
    field_mapping_table = dict(heatmaps='heatmaps')

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int]):
        super().__init__()
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.stride = np.array(input_size, np.float32) / np.array(
            heatmap_size, np.float32)

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Encode keypoints (N, K, 2) in input-image coordinates.

        The heatmaps are of the first instance (top-down: N = 1).
        """
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], np.float32)
        labels = (keypoints / self.stride).astype(np.float32)
        w, h = self.heatmap_size
        inside = ((labels[..., 0] >= 0) & (labels[..., 0] <= w - 1) &
                  (labels[..., 1] >= 0) & (labels[..., 1] <= h - 1))
        weights = ((keypoints_visible > 0) & inside).astype(np.float32)
        heatmaps = bilinear_one_hot(labels[0], weights[0] > 0, (w, h))
        return dict(
            heatmaps=heatmaps, keypoint_labels=labels,
            keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Heatmap-unit coordinates (N, K, 2) -> input-image keypoints
        (N, K, 2) and scores (N, K) of ones (the head sets the scores)."""
        keypoints = encoded * self.stride
        return keypoints, np.ones(keypoints.shape[:-1], np.float32)


def bilinear_one_hot(coords: np.ndarray, valid: np.ndarray,
                     size: Tuple[int, int]) -> np.ndarray:
    """Bilinear one-hot heatmaps.

    Args:
        coords (np.ndarray): (K, 2) heatmap-unit coordinates.
        valid (np.ndarray): (K, ) bool; invalid joints get all-zero maps.
        size (tuple): (w, h).

    Returns:
        np.ndarray: (K, h, w) float32, each valid map sums to 1.
    """
    w, h = size
    heatmaps = np.zeros((len(coords), h, w), np.float32)
    for k in np.flatnonzero(valid):
        x, y = coords[k]
        x0, y0 = min(int(x), w - 1), min(int(y), h - 1)
        fx, fy = x - x0, y - y0
        x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
        heatmaps[k, y0, x0] += (1 - fx) * (1 - fy)
        heatmaps[k, y0, x1] += fx * (1 - fy)
        heatmaps[k, y1, x0] += (1 - fx) * fy
        heatmaps[k, y1, x1] += fx * fy
    return heatmaps
