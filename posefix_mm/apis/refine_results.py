"""Refine any method's results with a PoseFix model: building the refiner
from its files, and the COCO results it writes. The refinement itself is
:func:`posefix_mm.engine.refine_samples`."""
import json
import os
import os.path as osp
import tempfile
import warnings
from typing import List, Optional, Union

import cv2
import numpy as np
from mmengine.config import Config

from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.models.heads.posefix_head import KEYPOINT_SCORE_MODES
from posefix_mm.engine import Refined
from posefix_mm.utils import load_weights


def init_refiner(config, checkpoint: Optional[str], device: str = 'cpu',
                 flip: bool = True, test_cfg: Optional[dict] = None):
    """Build a PoseFix model from its config and a local checkpoint.

    Args:
        config (str | Config): the PoseFix config.
        checkpoint (str, optional): local checkpoint, loaded strictly (see
            :func:`~posefix_mm.utils.load_weights`: a checkpoint of another
            model is an error); None keeps the initial weights, with a
            warning. A missing file is an error, never a download.
        device (str): ``'cpu'`` or ``'cuda'``.
        flip (bool): flip test.
        test_cfg (dict, optional): merged into the model's ``test_cfg``.
    """
    from mmpose.apis import init_model
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model = init_model(cfg, None, device='cpu')
    if checkpoint is None:
        warnings.warn('init_refiner: no checkpoint: the refiner is '
                      'untrained (random weights)')
    else:
        meta = load_weights(model, checkpoint, 'refiner checkpoint').get(
            'meta', {})
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.to(device)
    # heatmap peaks come out with the keypoints; the input's scores are
    # kept aside by the samples (see to_coco_results)
    model.test_cfg = dict(
        model.test_cfg or {},
        flip_test=flip,
        keypoint_score='heatmap',
        **(test_cfg or {}))
    return model


def as_bgr(img: np.ndarray) -> np.ndarray:
    """A grayscale (H, W) or (H, W, 1), or a 4-channel BGRA image as
    3-channel BGR, as MMPose's inferencers take them."""
    if img.ndim == 2 or img.shape[-1] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[-1] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def _coco_entry(info: dict, kpts: np.ndarray, scores,
                score_factor: float = 1.0, refine_probs=None) -> dict:
    extra = {} if refine_probs is None else dict(
        refine_probs=[round(float(p), 4) for p in refine_probs])
    return coco_entry(info['img_id'], kpts, scores,
                      float(info['bbox_score'][0]) * score_factor, **extra)


def to_coco_results(outputs: List[Refined],
                    keypoint_score: str = 'input',
                    instance_score: str = 'input') -> List[dict]:
    """Refined COCO results, one per output, in input order.

    Keypoint scores: ``'input'`` keeps each input joint's score (so scoring
    downstream is unchanged) and gives an absent input joint, which only
    the refiner placed, the refiner's softmax peak; ``'heatmap'`` gives the
    refiner's peak to every joint. Instance score: ``'input'`` keeps the
    input's (as the official code), ``'heatmap'`` multiplies it by the mean
    softmax peak of the refined joints (the refiner's confidence re-ranks
    the instances).
    With a per-joint decision, each entry also carries ``refine_probs``
    (K values): the refiner's probability that its joint beats the input
    joint, which points at the input's likely errors without ground truth
    (COCO evaluation ignores the field).
    """
    for name, value in (('keypoint_score', keypoint_score),
                        ('instance_score', instance_score)):
        if value not in KEYPOINT_SCORE_MODES:
            raise ValueError(f'{name} must be one of '
                             f'{KEYPOINT_SCORE_MODES}, got {value!r}')
    results = []
    for info, kpts, heat, probs in sorted(outputs,
                                          key=lambda o: o.info['id']):
        scores = heat
        if keypoint_score == 'input':
            present = info['input_keypoints_visible'][0] > 0
            scores = np.where(present, info['input_keypoint_scores'], heat)
        factor = 1.0 if instance_score == 'input' else float(np.mean(heat))
        results.append(_coco_entry(info, kpts, scores, factor, probs))
    return results


def input_results(outputs: List[Refined]) -> List[dict]:
    """The input entries of the refined samples, for a fair comparison."""
    return [
        _coco_entry(o.info, o.info['input_keypoints'][0],
                    o.info['input_keypoint_scores'])
        for o in sorted(outputs, key=lambda o: o.info['id'])
    ]


def dump_json_atomic(obj, path: str, indent: Optional[int] = None) -> None:
    """Write strict JSON (no NaN or infinity) atomically (see
    :func:`write_atomic`)."""
    write_atomic(path, json.dumps(obj, allow_nan=False, indent=indent))


def write_atomic(path: str, data: Union[str, bytes]) -> None:
    """Write ``data`` so that ``path`` is either complete or untouched; the
    file gets the permissions the user's umask gives any new file."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, 'wb' if isinstance(data, bytes) else 'w') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
