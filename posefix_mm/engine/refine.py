"""The refine engine: PoseFix samples from the poses of any method,
PoseFix's test pipeline, and batched refinement (image reading, DataLoader
workers, a progress bar): the layer that runs models on data, below
``apis`` and used by ``PoseRefiner``.

``tools/refine.py`` (a results file), ``RefineInferencer`` (an MMPose 2D
inferencer's poses) and ``PoseRefiner`` (a pose model's predictions in a
test run) all refine through :func:`pose_samples` and
:func:`refine_samples`, and write back through :mod:`.refined` (what a
refined pose holds).
"""
from collections import Counter
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from posefix_mm.datasets.coco_results import UnusableEntry, input_pose_sample
from .refined import Refined


def refine_pipeline(cfg: Config) -> list:
    """The config's test pipeline without error synthesis: the input pose
    comes from elsewhere."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    return [t for t in pipeline if t['type'] != 'SynthesizePoseErrors']


def read_image(path: str) -> Optional[np.ndarray]:
    """An image file as BGR, or None if it cannot be decoded: a missing,
    empty, truncated or undecodable file, or one beyond OpenCV's pixel
    limit (a "decompression bomb" header)."""
    try:
        return mmcv.imread(path)
    except (OSError, ValueError, cv2.error):
        return None


def pose_samples(keypoints: np.ndarray,
                 scores: np.ndarray,
                 meta: dict,
                 absent_score_thr: Optional[float] = None,
                 bbox_scores: Optional[np.ndarray] = None,
                 **fields) -> List[dict]:
    """PoseFix samples of one image's predicted poses, the box from the
    keypoints (as the official code refines a results file). A pose
    without a present joint (see
    :func:`~posefix_mm.datasets.coco_results.present_joints`) gives no
    sample: it stays unrefined.

    Args:
        keypoints (np.ndarray): (N, K, 2) image coordinates.
        scores (np.ndarray): (N, K) joint scores.
        meta (dict): PoseFix's dataset meta (``flip_indices``, ``sigmas``).
        absent_score_thr (float, optional): see ``present_joints``.
        bbox_scores (np.ndarray, optional): (N, ) instance scores.
        **fields: added to every sample (``img`` or ``img_path``, ...).

    Returns:
        list[dict]: the samples; ``instance_index`` says whose each is.
    """
    samples = []
    for i, (kpts, kpt_scores) in enumerate(zip(keypoints, scores)):
        try:
            samples.append(
                input_pose_sample(
                    kpts,
                    kpt_scores,
                    1. if bbox_scores is None else float(bbox_scores[i]),
                    box_source='keypoints',
                    absent_score_thr=absent_score_thr,
                    id=i,
                    instance_index=i,
                    flip_indices=meta['flip_indices'],
                    sigmas=meta['sigmas'],
                    **fields))
        except UnusableEntry:
            continue
    return samples


def image_key(info: dict):
    """What a sample's image is: its array (by identity) or its file."""
    img = info.get('img')
    return info.get('img_path') if img is None else ('array', id(img))


def image_groups(keys: Sequence) -> List[List[int]]:
    """The positions of ``keys`` (one per sample: :func:`image_key`), those
    of one image together: a group per image, the images in order of first
    appearance, each group in input order."""
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def image_shards(keys: Sequence, world_size: int) -> List[List[int]]:
    """Positions of ``keys`` split into ``world_size`` shards, whole images
    to a shard (each image is decoded by one process only), the shards'
    sample counts balanced: the largest images first, each to the shard with
    the fewest samples so far (ties: the lowest rank). Each shard lists its
    positions in increasing order."""
    shards = [[] for _ in range(world_size)]
    for group in sorted(image_groups(keys), key=len, reverse=True):
        min(shards, key=len).extend(group)
    return [sorted(shard) for shard in shards]


class _PreparedSamples(Dataset):
    """Samples through PoseFix's test pipeline, image read on the way
    (None for an unreadable image): the work a DataLoader's workers do
    while the network runs, in the order of ``order`` (positions in
    ``samples``). An item is ``(position, info, packed)``.

    The last image read is kept: the persons of one image, consecutive in
    ``order`` (:func:`refine_samples` orders them so), decode it once (the
    pipeline warps a copy; the image itself is never written to)."""

    def __init__(self, samples: List[dict], order: List[int],
                 pipeline: Compose):
        self.samples, self.order, self.pipeline = samples, order, pipeline
        self._last_read = (None, None)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int):
        position = self.order[index]
        info = self.samples[position]
        img = info.get('img')
        if img is None:
            img = self._read(info['img_path'])
        if img is None:
            return position, info, None
        return position, info, self.pipeline(dict(info, img=img))

    def _read(self, path: str) -> Optional[np.ndarray]:
        if self._last_read[0] != path:
            self._last_read = (path, read_image(path))
        return self._last_read[1]


def _collate(batch: list) -> tuple:
    """A batch of :class:`_PreparedSamples` (in the loader's worker): the
    positions of the samples whose image cannot be read, the readable
    samples' positions and infos,
    their crops stacked into one tensor (one transfer from the worker per
    batch, not one per crop) and their data samples."""
    readable = [item for item in batch if item[2] is not None]
    crops = torch.stack([packed['inputs'] for *_, packed in readable
                         ]) if readable else None
    return ([pos for pos, _, packed in batch if packed is None],
            [pos for pos, *_ in readable],
            [info for _, info, _ in readable], crops,
            [packed['data_samples'] for *_, packed in readable])


def _refined(info: dict, instances) -> Refined:
    """A model's prediction of one sample as :class:`Refined`."""
    keypoints = np.asarray(instances.keypoints[0], np.float32).copy()
    kept = instances.get('keypoints_kept')
    if kept is not None:
        # the model's mask (present joints only); the input point exactly,
        # not as it comes back through the crop's warp
        kept = np.asarray(kept[0], bool)
        keypoints[kept] = info['input_keypoints'][0][kept]
    probs = instances.get('keypoint_refine_probs')
    cues = instances.get('keypoint_decision_cues')
    return Refined(info, keypoints,
                   np.asarray(instances.keypoint_peaks[0], np.float32),
                   None if probs is None else np.asarray(probs[0]), kept,
                   None if cues is None else np.asarray(cues[0], np.float32))


def refine_samples(model,
                   samples: Iterable[dict],
                   pipeline: Compose,
                   batch_size: int = 32,
                   total: Optional[int] = None,
                   progress: bool = True,
                   num_workers: int = 0,
                   skipped_samples: Optional[list] = None
                   ) -> Tuple[List[Refined], Counter]:
    """Run PoseFix on samples that carry ``input_keypoints`` (image
    coordinates) and an ``img`` or an ``img_path``, in batches.

    Reading, cropping and packing run in ``num_workers`` DataLoader worker
    processes (0: in this process; no more than there are batches),
    overlapped with the network. The persons of one image are refined one
    after the other, whatever their order in ``samples``: each image is
    decoded once. A sample whose image cannot be read, or whose refined
    keypoints are not finite (a broken checkpoint), is skipped and counted,
    not fatal; any other error is raised. A joint the model keeps
    (``keypoints_kept``: the per-joint decision or the gate) is set to its
    input point exactly (the model returns it through the crop's warp and
    back, within float error).

    Returns:
        tuple: ``(outputs, skipped)``; outputs are
        :class:`~posefix_mm.engine.refined.Refined`, in input order,
        skipped a Counter of reasons. ``skipped_samples``, when given, gets
        ``(position in samples, reason)`` of each skipped sample.
    """
    samples = list(samples)
    order = [
        i for group in image_groups([image_key(s) for s in samples])
        for i in group
    ]
    loader = DataLoader(
        _PreparedSamples(samples, order, pipeline),
        batch_size=batch_size,
        # a worker per batch at most: the others would be started for nothing
        num_workers=min(num_workers, -(-len(samples) // batch_size)),
        collate_fn=_collate)
    outputs, skipped = [], Counter()
    bar = tqdm(total=total or len(samples), desc='refining', unit='pose',
               disable=not progress)
    for unreadable, positions, infos, crops, data_samples in loader:
        skipped['unreadable image'] += len(unreadable)
        if skipped_samples is not None:
            skipped_samples += [(p, 'unreadable image') for p in unreadable]
        bar.update(len(unreadable) + len(infos))
        if not infos:
            continue
        # only the crops go to the model's device; the samples (numpy,
        # metainfo) stay
        inputs = model.data_preprocessor(
            dict(inputs=crops, data_samples=[]), False)['inputs']
        with torch.no_grad():
            preds = model.predict(inputs, data_samples)
        for position, info, pred in zip(positions, infos, preds):
            instances = pred.pred_instances
            if not np.isfinite(instances.keypoints).all():
                skipped['non-finite refined keypoints'] += 1
                if skipped_samples is not None:
                    skipped_samples.append(
                        (position, 'non-finite refined keypoints'))
                continue
            outputs.append((position, _refined(info, instances)))
    bar.close()
    outputs.sort(key=lambda output: output[0])
    return [refined for _, refined in outputs], +skipped
