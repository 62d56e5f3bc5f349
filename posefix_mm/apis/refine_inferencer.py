"""PoseFix after any MMPose 2D model, as an MMPose inferencer."""
import logging
import os.path as osp
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.apis.inference import dataset_meta_from_config
from mmpose.apis.inferencers import Pose2DInferencer
from mmpose.apis.inferencers.base_mmpose_inferencer import \
    BaseMMPoseInferencer
from mmpose.registry import INFERENCERS
from mmpose.structures import PoseDataSample

from posefix_mm.engine import (pose_samples, read_image, refine_pipeline,
                               refine_samples, skip_message, write_back)
from posefix_mm.utils import (apply_checkpoint, dump_json_atomic, few,
                              read_checkpoint)
from posefix_mm.visualization import draw_refinement
from .inference import init_refiner


def as_bgr(img: np.ndarray) -> np.ndarray:
    """A grayscale (H, W) or (H, W, 1), or a 4-channel BGRA image as
    3-channel BGR, as MMPose's inferencers take them."""
    if img.ndim == 2 or img.shape[-1] == 1:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[-1] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


class UnreadableImage(ValueError):
    """An input image file that cannot be decoded."""


def _local_file(path: Optional[str], what: str, kind: str) -> None:
    if path is not None and not osp.isfile(path):
        raise FileNotFoundError(
            f'{what}: {path!r} is not a local {kind} file (posefix_mm never '
            'downloads configs or weights, so model aliases and names of '
            "MMPose's model zoo do not work: pass local paths)")


class _LocalPose2DInferencer(Pose2DInferencer):
    """MMPose's 2D inferencer, loading its checkpoint strictly (MMPose
    loads non-strictly, with warnings: another model's checkpoint must be
    an error)."""

    def _load_weights_to_model(self, model, checkpoint, cfg):
        if checkpoint is None:
            return super()._load_weights_to_model(model, None, cfg)
        meta = apply_checkpoint(model, checkpoint, self._weights,
                                'pose2d_weights').get('meta', {})
        model.dataset_meta = meta.get('dataset_meta') or \
            dataset_meta_from_config(cfg, dataset_mode='train')

    def __init__(self, model, weights, *args, **kwargs):
        self._weights = weights
        if weights is not None:
            read_checkpoint(weights, 'pose2d_weights')  # a clear error
        super().__init__(model, weights, *args, **kwargs)


@INFERENCERS.register_module(name='pose-refinement')
@INFERENCERS.register_module()
class RefineInferencer(BaseMMPoseInferencer):
    """An MMPose 2D model (with or without an mmdet person detector)
    followed by PoseFix, as MMPose's ``Pose3DInferencer`` chains a 2D model
    and a lifter.

    It takes what ``MMPoseInferencer`` takes: an image path or array, a
    list of them, a folder, a video file, ``'webcam'``; and its call options
    (``return_vis``, ``show``, ``wait_time``, ``draw_bbox``, ``kpt_thr``,
    ``radius``, ``thickness``, ``vis_out_dir``, ``pred_out_dir``,
    ``out_dir``, ``return_datasamples``, ``bbox_thr``, ``nms_thr``,
    ``bboxes``). Each result holds ``predictions`` (the refined poses, in
    ``MMPoseInferencer``'s structure: a list with one list of instance dicts
    ``keypoints``, ``keypoint_scores``, ``bbox``, ``bbox_score``, plus the
    refined fields of :mod:`posefix_mm.engine.refined`: ``keypoint_peaks``,
    ``input_absent`` and, with a per-joint decision,
    ``keypoint_refine_probs``) and ``input_predictions`` (the 2D model's),
    all plain JSON types. ``pred_out_dir`` and ``vis_out_dir`` hold the
    refined results, named after the input file (a video gives one JSON of
    frames and a video). The pictures show the refined poses (the joints
    the refiner placed, and the kept ones scored at least ``kpt_thr``),
    and where a joint moved, an arrow from the 2D model's point, with a
    one-line legend.

    Fully offline: every config and weight is a local file, checked when
    the inferencer is built; a missing path or a model alias is an error,
    never a download.

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
        scope (str): the registry scope. ``'mmpose'``.
        show_progress (bool): a progress bar over the inputs.
        flip (bool): PoseFix flip test. Default True.
        absent_score_thr (float, optional): joints the 2D model scores at or
            below this are absent: PoseFix estimates them from the image
            (see :func:`~posefix_mm.datasets.coco_results.present_joints`).
            Default None: only joints at (0, 0).
    """

    preprocess_kwargs: set = {'bbox_thr', 'nms_thr', 'bboxes'}
    forward_kwargs: set = set()
    visualize_kwargs: set = {
        'return_vis', 'show', 'wait_time', 'draw_bbox', 'radius',
        'thickness', 'kpt_thr', 'vis_out_dir', 'black_background'
    }
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

    def __init__(self,
                 pose2d: str,
                 pose2d_weights: Optional[str] = None,
                 refiner: Optional[str] = None,
                 refiner_weights: Optional[str] = None,
                 det_model: Optional[str] = None,
                 det_weights: Optional[str] = None,
                 det_cat_ids: Optional[Union[int, Sequence[int]]] = None,
                 device: Optional[str] = None,
                 scope: str = 'mmpose',
                 show_progress: bool = False,
                 flip: bool = True,
                 absent_score_thr: Optional[float] = None):
        if refiner is None:
            raise ValueError('refiner: a local PoseFix config is required')
        _local_file(pose2d, 'pose2d', 'config')
        _local_file(pose2d_weights, 'pose2d_weights', 'checkpoint')
        _local_file(refiner, 'refiner', 'config')
        _local_file(refiner_weights, 'refiner_weights', 'checkpoint')
        det_model = det_model or 'whole_image'
        if det_model not in ('whole_image', 'whole-image'):
            _local_file(det_model, 'det_model', 'config')
            if det_weights is None:
                raise ValueError('det_weights: a local checkpoint is needed '
                                 f'with det_model {det_model}')
            _local_file(det_weights, 'det_weights', 'checkpoint')
        self._flip = flip
        init_default_scope(scope)
        super().__init__(
            model=refiner,
            weights=refiner_weights,
            device=device,
            scope=scope,
            show_progress=show_progress)
        self.pose2d_model = _LocalPose2DInferencer(pose2d, pose2d_weights,
                                                   device, scope, det_model,
                                                   det_weights, det_cat_ids)
        self.visualizer.set_dataset_meta(self.model.dataset_meta)
        self.absent_score_thr = absent_score_thr
        self._video_input = False
        self._buffer = {}
        self.skipped_images = []  # of the last call: unreadable image files

    def _init_model(self, cfg: Config, weights: Optional[str], device: str):
        # strict, weights-only loading (see init_refiner)
        return init_refiner(cfg, weights, device, self._flip).eval()

    def _init_pipeline(self, cfg: Config) -> Compose:
        return Compose(refine_pipeline(cfg))

    def __call__(self, inputs, *args, **kwargs):
        """Refine the poses of each input; see the class docstring. Inputs
        are checked before any work. An image file that cannot be read is
        skipped, named in the log and in ``skipped_images`` (as
        ``tools/refine.py`` skips it); when no input can be read, that is an
        error."""
        self._check_inputs(inputs)
        self.skipped_images = []
        yield from super().__call__(inputs, *args, **kwargs)
        if self.skipped_images:
            print_log(f'RefineInferencer: skipped {len(self.skipped_images)} '
                      f'unreadable images: {few(self.skipped_images)}',
                      logger='current', level=logging.WARNING)

    @staticmethod
    def _check_inputs(inputs) -> None:
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

    def preprocess(self, inputs, batch_size: int = 1, bboxes=None,
                   **kwargs):
        """Per input: the 2D model's poses and PoseFix's samples of them.
        ``batch_size`` is MMPose's (one image at a time); PoseFix refines
        all poses of an image in one batch."""
        count = 0
        for i, item in enumerate(inputs):
            count += 1
            try:
                data = self.preprocess_single(
                    item, i, bboxes=bboxes[i] if bboxes else [], **kwargs)
            except UnreadableImage:
                self.skipped_images.append(item)
                continue
            yield data, [item]
        if count and len(self.skipped_images) == count:
            raise UnreadableImage(
                'RefineInferencer: cannot read image '
                f'{few(self.skipped_images)} (empty, damaged, not an image, '
                "or beyond OpenCV's pixel limit); nothing written")

    def preprocess_single(self,
                          input,
                          index: int,
                          bbox_thr: float = 0.3,
                          nms_thr: float = 0.3,
                          bboxes=()):
        if isinstance(input, str):
            img = read_image(input)
            if img is None:
                raise UnreadableImage(
                    f'RefineInferencer: cannot read image {input} (empty, '
                    "damaged, not an image, or beyond OpenCV's pixel limit)")
            name = input
        else:
            img = as_bgr(input)
            name = (f'{self.video_info["name"]}' if self._video_input else
                    f'{index:06d}.jpg')
        pose2d = next(
            self.pose2d_model(
                img,
                bbox_thr=bbox_thr,
                nms_thr=nms_thr,
                bboxes=[bboxes] if len(bboxes) else [],
                return_datasamples=True))['predictions'][0]
        pose2d.set_metainfo(dict(img_path=name))
        pred = pose2d.pred_instances
        samples = pose_samples(
            np.asarray(pred.keypoints, np.float32),
            np.asarray(pred.keypoint_scores, np.float32),
            self.model.dataset_meta,
            self.absent_score_thr,
            np.asarray(pred.get('bbox_scores', np.ones(len(pred)))),
            img=img,
            img_id=index,
            img_path=name)
        return dict(img=img, pose2d=pose2d, samples=samples)

    @torch.no_grad()
    def forward(self, inputs: dict) -> List[PoseDataSample]:
        """The refined data sample: the 2D model's, its instances with the
        refined fields of :func:`~posefix_mm.engine.write_back`
        (``keypoints``, ``keypoint_scores``, ``keypoint_peaks``,
        ``input_keypoints``, ... : see :mod:`posefix_mm.engine.refined`)."""
        pose2d = inputs['pose2d']
        outputs, skipped = refine_samples(self.model, inputs['samples'],
                                          self.pipeline, batch_size=32,
                                          progress=False)
        if skipped:
            print_log(f'RefineInferencer: {pose2d.img_path}: '
                      f'{skip_message(skipped)}', logger='current',
                      level=logging.WARNING)
        pred = pose2d.pred_instances.clone()  # shares the arrays: copy
        for name, value in write_back(pred.keypoints, pred.keypoint_scores,
                                      outputs,
                                      self.absent_score_thr).items():
            pred.set_field(value, name)
        refined = PoseDataSample(metainfo=pose2d.metainfo)
        refined.pred_instances = pred
        self._buffer['img'] = inputs['img']
        self._buffer['pose2d'] = pose2d
        return [refined]

    def visualize(self,
                  inputs: list,
                  preds: List[PoseDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  draw_bbox: bool = False,
                  wait_time: float = 0,
                  radius: int = 3,
                  thickness: int = 1,
                  kpt_thr: float = 0.3,
                  vis_out_dir: str = '',
                  window_name: str = '',
                  black_background: bool = False) -> List[np.ndarray]:
        """The image with the refined poses drawn by MMPose's
        ``PoseLocalVisualizer`` and an arrow from the 2D model's point to
        each joint that moved."""
        if not (return_vis or show or vis_out_dir):
            return []
        self.visualizer.radius = radius
        self.visualizer.line_width = thickness
        results = []
        for pred in preds:
            img = self._buffer['img'][..., ::-1]  # RGB
            if black_background:
                img = img * 0
            img_name = osp.basename(pred.metainfo['img_path'])
            picture = draw_refinement(
                self.visualizer,
                img,
                pred.pred_instances,
                kpt_thr=kpt_thr,
                draw_bbox=draw_bbox)
            if show:
                self.visualizer.show(
                    picture,
                    win_name=window_name or img_name,
                    wait_time=1e-5 if self._video_input else wait_time)
            if vis_out_dir:
                self.save_visualization(picture, vis_out_dir, img_name)
            results.append(picture)
        return results if return_vis else []

    def postprocess(self,
                    preds: List[PoseDataSample],
                    visualization: List[np.ndarray],
                    return_datasample=None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '') -> dict:
        """MMPose's results (``visualization``, ``predictions``: refined),
        with ``input_predictions`` (the 2D model's), every value a plain
        JSON type unless ``return_datasamples``."""
        if return_datasample is not None:  # MMPose's deprecated spelling
            return_datasamples = return_datasample
        pose2d = self._buffer['pose2d']
        if return_datasamples:
            result = dict(predictions=preds, input_predictions=[pose2d])
        else:
            result = dict(
                predictions=[instance_dicts(p.pred_instances) for p in preds],
                input_predictions=[instance_dicts(pose2d.pred_instances)])
        result['visualization'] = visualization
        if pred_out_dir:
            self._save_predictions(result, preds, pred_out_dir,
                                   return_datasamples)
        return result

    def _save_predictions(self, result, preds, pred_out_dir,
                          as_datasamples: bool) -> None:
        """The refined predictions, as MMPose saves its own (one JSON per
        image; a video's frames gathered in one JSON at the end)."""
        predictions = [instance_dicts(p.pred_instances) for p in preds
                       ] if as_datasamples else result['predictions']
        for pred, sample in zip(predictions, preds):
            if self._video_input:
                self.video_info['predictions'].append(pred)
            else:
                name = osp.splitext(osp.basename(
                    sample.metainfo['img_path']))[0]
                dump_json_atomic(
                    pred, osp.join(pred_out_dir, name + '.json'), indent=2)

    def _finalize_video_processing(self, pred_out_dir: str = ''):
        if self.video_info['writer'] is not None:
            self.video_info['writer'].release()
            print_log(
                f'the output video has been saved at '
                f'{self.video_info["output_file"]}',
                logger='current',
                level=logging.INFO)
        if pred_out_dir:
            name = osp.splitext(osp.basename(self.video_info['name']))[0]
            dump_json_atomic([
                dict(frame_id=i, instances=pred)
                for i, pred in enumerate(self.video_info['predictions'])
            ],
                             osp.join(pred_out_dir, name + '.json'),
                             indent=2)


def instance_dicts(instances: InstanceData) -> List[dict]:
    """MMPose's per-instance dicts (as ``split_instances``), with plain
    Python numbers only (JSON-serialisable), plus the refined fields of
    :mod:`posefix_mm.engine.refined` that a results entry holds:
    ``keypoint_peaks``, ``input_absent`` (joint indices) and
    ``keypoint_refine_probs``."""
    results = []
    for i in range(len(instances.keypoints)):
        result = dict(
            keypoints=np.asarray(instances.keypoints[i]).tolist(),
            keypoint_scores=np.asarray(
                instances.keypoint_scores[i]).tolist())
        if 'bboxes' in instances:
            result['bbox'] = (np.asarray(instances.bboxes[i]).tolist(), )
            if 'bbox_scores' in instances:
                result['bbox_score'] = float(instances.bbox_scores[i])
        if 'track_id' in instances:
            result['track_id'] = int(instances.track_id[i])
        for name in ('keypoint_peaks', 'keypoint_refine_probs'):
            if name in instances:
                result[name] = np.asarray(instances.get(name)[i]).tolist()
        if 'input_absent' in instances:
            result['input_absent'] = np.flatnonzero(
                instances.input_absent[i]).tolist()
        results.append(result)
    return results
