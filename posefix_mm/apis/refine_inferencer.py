"""PoseFix after any MMPose 2D model: ``RefineInferencer``."""
import os
import os.path as osp
from typing import Iterator, Optional, Sequence, Union

import mmcv
import numpy as np
from mmcv.transforms import Compose

from posefix_mm.datasets.coco_results import UnusableEntry, input_pose_sample
from posefix_mm.utils import load_weights
from posefix_mm.visualization import side_by_side
from .refine_results import (as_bgr, init_refiner, read_image,
                             refine_samples, test_pipeline)


def _local_file(path: Optional[str], what: str) -> None:
    if path is not None and not osp.isfile(path):
        raise FileNotFoundError(
            f'{what}: no local file {path} (posefix_mm never downloads '
            'weights or configs; pass local paths)')


VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')


def _check_input(item) -> None:
    """Refuse, before any work, what this inferencer cannot take yet."""
    if isinstance(item, np.ndarray):
        if not (item.ndim == 2
                or item.ndim == 3 and item.shape[-1] in (1, 3, 4)):
            raise ValueError('RefineInferencer: an image array must be (H, W)'
                             f' or (H, W, 1|3|4), got {item.shape}')
        return
    if not isinstance(item, str):
        raise TypeError('RefineInferencer: inputs are image paths or arrays, '
                        f'got {type(item).__name__}')
    if item == 'webcam' or osp.isdir(item) or item.lower().endswith(
            VIDEO_EXTENSIONS):
        raise ValueError(f'RefineInferencer: {item!r}: folders, videos and '
                         'the webcam are not supported yet; pass image '
                         'paths or arrays')
    if not osp.isfile(item):
        raise FileNotFoundError(f'RefineInferencer: no image file {item}')


class RefineInferencer:
    """Run an MMPose 2D model (with or without an mmdet person detector) and
    refine its poses with PoseFix, as MMPose's ``Pose3DInferencer`` chains a
    2D model and a lifter.

    Calling it on images yields, per image, a dict with ``predictions``
    (the refined poses, in ``MMPoseInferencer``'s structure: a list with
    one list of instance dicts ``keypoints``, ``keypoint_scores``, ``bbox``,
    ``bbox_score``, and with a per-joint decision ``keypoint_refine_probs``:
    the refiner's probability that each refined joint beats the 2D model's)
    and ``input_predictions`` (the 2D model's, the same
    structure). Keypoint scores stay those of the 2D model.

    Fully offline: every config and weight is a local file, checked when the
    inferencer is built; a missing path is an error, never a download.

    Args:
        pose2d (str): local config of the 2D pose model.
        pose2d_weights (str, optional): its local checkpoint.
        refiner (str): local PoseFix config.
        refiner_weights (str, optional): local PoseFix checkpoint (None:
            untrained weights, for tests).
        det_model (str, optional): ``'whole_image'`` (default here: no
            detector, one box per image) or a local mmdet config.
        det_weights (str, optional): local mmdet checkpoint.
        det_cat_ids (int | Sequence[int], optional): person category ids.
        device (str, optional): ``'cpu'``, ``'cuda'``, ... (MMPose's default).
        flip (bool): PoseFix flip test. Default True.
        absent_score_thr (float, optional): joints the 2D model scores at or
            below this are absent: PoseFix estimates them from the image
            (see :func:`~posefix_mm.datasets.coco_results.present_joints`).
            Default None: only joints at (0, 0).
    """

    def __init__(self,
                 pose2d: str,
                 pose2d_weights: Optional[str] = None,
                 refiner: str = None,
                 refiner_weights: Optional[str] = None,
                 det_model: Optional[str] = None,
                 det_weights: Optional[str] = None,
                 det_cat_ids: Optional[Union[int, Sequence[int]]] = None,
                 device: Optional[str] = None,
                 flip: bool = True,
                 absent_score_thr: Optional[float] = None):
        from mmpose.apis import MMPoseInferencer
        if refiner is None:
            raise ValueError('refiner: a local PoseFix config is required')
        _local_file(pose2d, 'pose2d')
        _local_file(pose2d_weights, 'pose2d_weights')
        _local_file(refiner, 'refiner')
        _local_file(refiner_weights, 'refiner_weights')
        det_model = det_model or 'whole_image'
        if det_model != 'whole_image':
            _local_file(det_model, 'det_model')
            if det_weights is None:
                raise ValueError('det_weights: a local checkpoint is needed '
                                 f'with det_model {det_model}')
            _local_file(det_weights, 'det_weights')
        self.pose2d = MMPoseInferencer(
            pose2d=pose2d,
            pose2d_weights=pose2d_weights,
            det_model=det_model,
            det_weights=det_weights,
            det_cat_ids=det_cat_ids,
            device=device,
            show_progress=False)
        if pose2d_weights is not None:
            # MMPose loads non-strictly, with warnings; another model's
            # checkpoint must be an error
            load_weights(self.pose2d.inferencer.model, pose2d_weights,
                         'pose2d_weights')
        self.refiner = init_refiner(refiner, refiner_weights,
                                    device or 'cpu', flip)
        self.pipeline = Compose(test_pipeline(self.refiner.cfg))
        self.meta = self.refiner.dataset_meta
        self.absent_score_thr = absent_score_thr

    def _samples(self, img: np.ndarray, instances: list) -> list:
        """PoseFix inputs of one image's 2D poses (as PoseFixResultsDataset
        makes them from a results file, the box from the keypoints); an
        instance without a present joint is left out (kept unrefined)."""
        samples = []
        for i, inst in enumerate(instances):
            try:
                samples.append(
                    input_pose_sample(
                        np.asarray(inst['keypoints'])[:, :2],
                        inst['keypoint_scores'],
                        inst.get('bbox_score', 1.),
                        box_source='keypoints',
                        absent_score_thr=self.absent_score_thr,
                        id=i,
                        img_id=0,
                        img=img,
                        img_path=None,
                        flip_indices=self.meta['flip_indices'],
                        sigmas=self.meta['sigmas']))
            except UnusableEntry:
                continue
        return samples

    def __call__(self,
                 inputs,
                 vis_out_dir: Optional[str] = None,
                 batch_size: int = 32,
                 **kwargs) -> Iterator[dict]:
        """Refine the poses of each image.

        Args:
            inputs: an image path, an image array (BGR), or a list of them.
            vis_out_dir (str, optional): write ``input | refined`` pictures.
            batch_size (int): PoseFix batch size.
            **kwargs: passed to ``MMPoseInferencer.__call__``.
        """
        if isinstance(inputs, (str, np.ndarray)):
            inputs = [inputs]
        inputs = list(inputs)
        for item in inputs:
            _check_input(item)
        for index, item in enumerate(inputs):
            img = self._image(item)
            base = next(self.pose2d(img, **kwargs))['predictions'][0]
            outputs, skipped = refine_samples(
                self.refiner, self._samples(img, base), self.pipeline,
                batch_size, progress=False)
            if skipped:
                raise RuntimeError(f'could not refine image {index}: '
                                   f'{dict(skipped)}')
            by_id = {o.info['id']: o for o in outputs}
            refined = [
                self._refined_instance(inst, by_id.get(i))
                for i, inst in enumerate(base)
            ]
            if vis_out_dir:
                self._write_picture(vis_out_dir, item, index, img, base,
                                    refined)
            yield dict(predictions=[refined], input_predictions=[base])

    @staticmethod
    def _image(item) -> np.ndarray:
        if isinstance(item, np.ndarray):
            return as_bgr(item)
        img = read_image(item)
        if img is None:
            raise ValueError(f'RefineInferencer: cannot read image {item} '
                             '(empty, damaged, not an image, or beyond '
                             "OpenCV's pixel limit)")
        return img

    @staticmethod
    def _refined_instance(inst: dict, output) -> dict:
        """The 2D model's instance with the refined keypoints and, with a
        per-joint decision, ``keypoint_refine_probs``; unchanged when it
        could not be refined."""
        if output is None:
            return dict(inst)
        refined = dict(inst, keypoints=output.keypoints.tolist())
        if output.refine_probs is not None:
            refined['keypoint_refine_probs'] = output.refine_probs.tolist()
        return refined

    def _write_picture(self, vis_out_dir, item, index, img, base, refined):
        os.makedirs(vis_out_dir, exist_ok=True)
        name = osp.splitext(osp.basename(item))[0] if isinstance(
            item, str) else f'{index:06d}'
        picture = side_by_side(
            img, [np.asarray(p['keypoints']) for p in base],
            [np.asarray(p['keypoints']) for p in refined],
            self.meta['skeleton_links'])
        mmcv.imwrite(picture, osp.join(vis_out_dir, name + '.png'))
