"""What RefineInferencer takes, checked before any work: images, folders,
videos, boxes, local files."""
import mimetypes
import os
import os.path as osp
from typing import Optional

import cv2
import numpy as np

from posefix_mm.utils import few


def as_bgr(img: np.ndarray) -> np.ndarray:
    """A grayscale (H, W) or (H, W, 1), or a 4-channel BGRA image as
    3-channel BGR, as MMPose's inferencers take them."""
    if img.ndim == 2 or img.shape[-1] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[-1] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def check_bboxes(bboxes, num_inputs: Optional[int]) -> None:
    """``bboxes`` as the inferencer takes them: one list per input (each
    image, each frame of a video) of boxes x1 y1 x2 y2 (and a score), or
    none at all. Anything else is an error naming the input and the box,
    before any work."""
    if bboxes is None or len(bboxes) == 0:
        return
    if num_inputs is not None and len(bboxes) != num_inputs:
        raise ValueError(f'bboxes: one list of boxes per input (image or '
                         f'frame): got {len(bboxes)} for {num_inputs} '
                         'inputs')
    for i, boxes in enumerate(bboxes):
        try:
            boxes = np.asarray(boxes, np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'bboxes[{i}]: not a list of boxes of numbers '
                             f'({e})') from e
        if boxes.size == 0:
            continue
        boxes = boxes.reshape(-1, boxes.shape[-1])
        if boxes.shape[-1] not in (4, 5):
            raise ValueError(f'bboxes[{i}]: boxes are x1 y1 x2 y2 (and a '
                             f'score), got {boxes.shape[-1]} numbers each')
        for j, box in enumerate(boxes):
            if not np.isfinite(box).all() or box[2] <= box[0] or \
                    box[3] <= box[1]:
                raise ValueError(f'bboxes[{i}][{j}]: {box.tolist()} is not '
                                 'a finite box with x2 > x1 and y2 > y1')


class UnreadableImage(ValueError):
    """An input image file that cannot be decoded."""


def local_file(path: Optional[str], what: str, kind: str) -> None:
    if path is not None and not osp.isfile(path):
        raise FileNotFoundError(
            f'{what}: {path!r} is not a local {kind} file (posefix_mm never '
            'downloads configs or weights, so model aliases and names of '
            "MMPose's model zoo do not work: pass local paths)")


#: said once per call when a top-down 2D model runs without detector and
#: boxes
WHOLE_IMAGE_NOTICE = (
    'RefineInferencer: no person detector and no boxes: the top-down 2D '
    'model takes each whole image as one person box, so an image gets one '
    'pose; pass bboxes=[...] per input (one list of x1 y1 x2 y2 boxes per '
    'image), or det_model=MMDET_CONFIG with det_weights=LOCAL_CHECKPOINT '
    '(tools/refine_inferencer.py --det-model --det-weights)')


def media_type(path: str) -> Optional[str]:
    """``'image'``, ``'video'``, ... by the file name (as MMPose's
    inferencers tell them), None when unknown."""
    kind = mimetypes.guess_type(path)[0]
    return kind.split('/')[0] if kind else None


def check_video(path: str) -> None:
    """A video whose first frame can be read, or a one-line error naming
    it (a damaged or cut file, or one without a frame)."""
    capture = cv2.VideoCapture(path)
    try:
        readable = capture.isOpened() and capture.read()[0]
    finally:
        capture.release()
    if not readable:
        raise ValueError(f'RefineInferencer: {path}: no frame can be read '
                         '(a damaged or cut video, or one without frames)')


def check_folder(path: str) -> None:
    """A folder with at least one image (by its name), only images and
    files MMPose can tell (a file of unknown type would stop MMPose's
    listing half-way), or a one-line error naming it."""
    names = sorted(n for n in os.listdir(path)
                   if osp.isfile(osp.join(path, n)))
    unknown = [n for n in names if media_type(n) is None]
    if unknown:
        raise ValueError(f'RefineInferencer: {path}: {few(unknown)} are no '
                         'image files (by their names); a folder of images '
                         'only')
    if not any(media_type(n) == 'image' for n in names):
        raise ValueError(f'RefineInferencer: {path}: a folder without images')


class MissingWeights(ValueError):
    """A model of the inferencer has no checkpoint and random weights were
    not asked for."""


def check_inputs(inputs) -> None:
    """What RefineInferencer takes (image paths or arrays, one folder, one
    video, 'webcam'), or a one-line error naming the bad input, before any
    work."""
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    for item in items:
        if isinstance(item, np.ndarray):
            if not (item.ndim == 2 or item.ndim == 3
                    and item.shape[-1] in (1, 3, 4)):
                raise ValueError('RefineInferencer: an image array must '
                                 'be (H, W) or (H, W, 1|3|4), got '
                                 f'{item.shape}')
        elif not isinstance(item, str):
            raise TypeError('RefineInferencer: inputs are paths, arrays '
                            f"or 'webcam', got {type(item).__name__}")
        elif item.lower().startswith('webcam'):
            if item is not inputs:
                raise ValueError("RefineInferencer: 'webcam' cannot be "
                                 'part of a list')
        elif not osp.exists(item):
            raise FileNotFoundError(f'RefineInferencer: no file or '
                                    f'folder {item}')
        elif isinstance(inputs, (list, tuple)) and osp.isdir(item):
            raise ValueError(f'RefineInferencer: {item} is a folder; '
                             'pass a folder alone, not in a list')
        elif osp.isdir(item):
            check_folder(item)
        elif media_type(item) == 'video':
            check_video(item)
