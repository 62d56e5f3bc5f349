"""Side-by-side pictures: the input poses | the refined poses."""
from typing import Sequence

import cv2
import numpy as np

INPUT_COLOR = (0, 140, 255)  # BGR orange
REFINED_COLOR = (80, 200, 40)  # BGR green


def draw_poses(img: np.ndarray, poses: Sequence[np.ndarray],
               skeleton: Sequence, color, radius: int = 3) -> np.ndarray:
    """Draw (K, 2) poses on a copy of a BGR image.

    What is drawn is clipped to a margin of a few image sizes around the
    image (OpenCV takes 32-bit coordinates): a joint far outside still
    points its limbs the right way, and never breaks the drawing.
    """
    out = img.copy()
    thickness = max(1, radius // 2)
    reach = 4 * max(img.shape[:2])
    for pose in poses:
        pts = np.round(
            np.clip(
                np.nan_to_num(np.asarray(pose, np.float64)[:, :2]), -reach,
                reach)).astype(np.int32)
        for a, b in skeleton:
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), color, thickness,
                     cv2.LINE_AA)
        for p in pts:
            cv2.circle(out, tuple(p), radius, color, -1, cv2.LINE_AA)
            cv2.circle(out, tuple(p), radius, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def side_by_side(img: np.ndarray, input_poses: Sequence[np.ndarray],
                 refined_poses: Sequence[np.ndarray],
                 skeleton: Sequence) -> np.ndarray:
    """One BGR picture: the image with the input poses, then with the
    refined poses, each panel titled."""
    radius = max(2, round(max(img.shape[:2]) / 200))
    panels = []
    for title, poses, color in (('input', input_poses, INPUT_COLOR),
                                ('refined', refined_poses, REFINED_COLOR)):
        panel = draw_poses(img, poses, skeleton, color, radius)
        cv2.putText(panel, title, (8, 8 + 12 * radius),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.25 * radius, (255, 255, 255),
                    max(2, radius), cv2.LINE_AA)
        cv2.putText(panel, title, (8, 8 + 12 * radius),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.25 * radius, color,
                    max(1, radius // 2), cv2.LINE_AA)
        panels.append(panel)
    gap = np.full((img.shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=1)
