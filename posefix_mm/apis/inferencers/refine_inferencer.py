"""PoseFix after any MMPose 2D model, as an MMPose inferencer."""
import logging
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmpose.registry import INFERENCERS
from mmpose.structures import PoseDataSample

from posefix_mm.engine import (pose_samples, read_image, refine_pipeline,
                               refine_samples, skip_message, write_back)
from posefix_mm.utils import few
from ..inference import init_refiner
from .base_refine_inferencer import BaseRefineInferencer
from .utils import (WHOLE_IMAGE_NOTICE, LocalPose2DInferencer, MissingWeights,
                    UnreadableImage, as_bgr, check_bboxes, check_inputs,
                    local_file, resolve_pose2d, track_instances)


@INFERENCERS.register_module(name='pose-refinement')
@INFERENCERS.register_module()
class RefineInferencer(BaseRefineInferencer):
    """An MMPose 2D model (with or without an mmdet person detector)
    followed by PoseFix, as MMPose's ``Pose3DInferencer`` chains a 2D model
    and a lifter.

    It takes what ``MMPoseInferencer`` takes: an image path or array, a
    list of them, a folder, a video file, ``'webcam'``; and the call options
    of MMPose's 2D inferencer (``return_vis``, ``show``, ``wait_time``,
    ``draw_bbox``, ``kpt_thr``, ``radius``, ``thickness``, ``vis_out_dir``,
    ``pred_out_dir``, ``out_dir``, ``return_datasamples``, ``bbox_thr``,
    ``nms_thr``, ``bboxes`` (also without a detector), ``merge_results``,
    ``pose_based_nms``, ``skeleton_style``, ``draw_heatmap``) and of its
    3D inferencer's tracking (``use_oks_tracking``, ``tracking_thr``). Each
    result holds ``predictions`` (the refined poses, in
    ``MMPoseInferencer``'s structure: a list with one list of instance dicts
    ``keypoints``, ``keypoint_scores``, ``bbox``, ``bbox_score``,
    ``track_id``, plus the refined fields of
    :mod:`posefix_mm.engine.refined`: ``keypoint_peaks``, ``input_absent``
    and, with a per-joint decision, ``keypoint_refine_probs``) and
    ``input_predictions`` (the 2D model's),
    all plain JSON types. ``pred_out_dir`` and ``vis_out_dir`` hold the
    refined results, named after the input file (a video gives one JSON of
    frames and a video). The pictures show the refined poses (the joints
    the refiner placed, and the kept ones scored at least ``kpt_thr``),
    and where a joint moved, an arrow from the 2D model's point, with a
    one-line legend.

    Fully offline: every config and weight is a local file, checked when
    the inferencer is built (``pose2d`` may also name a config of MMPose's
    package: :func:`~.utils.resolve_pose2d`); a missing path or a model
    alias is an error, never a download.

    Args:
        pose2d (str): local config of the 2D pose model, or the name of a
            config MMPose ships.
        pose2d_weights (str): its local checkpoint.
        refiner (str): local PoseFix config.
        refiner_weights (str): local PoseFix checkpoint.
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
        random_weights (bool): run a model whose checkpoint is not given
            with untrained (random) weights. Default False: a missing
            ``pose2d_weights`` or ``refiner_weights`` is an error, never
            plausible-looking poses from random weights.
    """

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
                 absent_score_thr: Optional[float] = None,
                 random_weights: bool = False):
        if refiner is None:
            raise ValueError('refiner: a local PoseFix config is required')
        pose2d = resolve_pose2d(pose2d)
        local_file(pose2d_weights, 'pose2d_weights', 'checkpoint')
        local_file(refiner, 'refiner', 'config')
        local_file(refiner_weights, 'refiner_weights', 'checkpoint')
        missing = [
            name for name, path in (('pose2d_weights', pose2d_weights),
                                    ('refiner_weights', refiner_weights))
            if path is None
        ]
        if missing and not random_weights:
            raise MissingWeights(
                f'{" and ".join(missing)}: no checkpoint given; the model '
                'would run with random weights. Pass a local checkpoint, '
                'or random_weights=True (--random-weights) to run untrained '
                'models on purpose')
        det_model = det_model or 'whole_image'
        if det_model not in ('whole_image', 'whole-image'):
            local_file(det_model, 'det_model', 'config')
            if det_weights is None:
                raise ValueError('det_weights: a local checkpoint is needed '
                                 f'with det_model {det_model}')
            local_file(det_weights, 'det_weights', 'checkpoint')
        self._flip = flip
        init_default_scope(scope)
        super().__init__(
            model=refiner,
            weights=refiner_weights,
            device=device,
            scope=scope,
            show_progress=show_progress)
        self.pose2d_model = LocalPose2DInferencer(pose2d, pose2d_weights,
                                                  device, scope, det_model,
                                                  det_weights, det_cat_ids)
        self.visualizer.set_dataset_meta(self.model.dataset_meta)
        # a top-down 2D model without a detector sees a whole image as one
        # person (MMPose's 'whole_image'): say so when no boxes are given
        self._whole_image_topdown = det_model in (
            'whole_image', 'whole-image') and \
            self.pose2d_model.cfg.get('data_mode') == 'topdown'
        self.absent_score_thr = absent_score_thr
        self._video_input = False
        self._draw_heatmap = False
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
        check_inputs(inputs)
        self.skipped_images = []
        if self._whole_image_topdown and kwargs.get('bboxes') is None:
            print_log(WHOLE_IMAGE_NOTICE, logger='current',
                      level=logging.WARNING)
        yield from super().__call__(inputs, *args, **kwargs)
        if self.skipped_images:
            print_log(f'RefineInferencer: skipped {len(self.skipped_images)} '
                      f'unreadable images: {few(self.skipped_images)}',
                      logger='current', level=logging.WARNING)

    def preprocess(self, inputs, batch_size: int = 1, bboxes=None,
                   **kwargs):
        """Per input: the 2D model's poses and PoseFix's samples of them.
        ``batch_size`` is MMPose's (one image at a time); PoseFix refines
        all poses of an image in one batch. ``bboxes`` are checked before
        the first input (:func:`~.utils.check_bboxes`)."""
        check_bboxes(bboxes, len(inputs) if hasattr(inputs, '__len__')
                     else None)
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
                          bboxes=(),
                          pose_based_nms: bool = False):
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
                pose_based_nms=pose_based_nms,
                draw_heatmap=self._draw_heatmap,
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
    def forward(self,
                inputs: dict,
                merge_results: bool = True,
                use_oks_tracking: bool = False,
                tracking_thr: float = 0.3) -> List[PoseDataSample]:
        """The refined data sample: the 2D model's, its instances with the
        refined fields of :func:`~posefix_mm.engine.write_back`
        (``keypoints``, ``keypoint_scores``, ``keypoint_peaks``,
        ``input_keypoints``, ... : see :mod:`posefix_mm.engine.refined`)
        and a ``track_id`` each, matched to the last frame's refined poses
        as MMPose's ``Pose3DInferencer`` tracks (by box IoU, or by OKS
        with ``use_oks_tracking``; above ``tracking_thr`` the same id, else
        a new one; each image of a list or folder on its own). With
        ``merge_results=False``, one data sample per instance, as MMPose's
        top-down 2D inferencer gives them."""
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
        track_instances(pred, self._buffer, self._video_input,
                        use_oks_tracking, tracking_thr,
                        self.model.dataset_meta.get('sigmas'))
        refined = PoseDataSample(metainfo=pose2d.metainfo)
        refined.pred_instances = pred
        self._buffer['img'] = inputs['img']
        self._buffer['pose2d'] = pose2d
        if merge_results:
            return [refined]
        return [
            PoseDataSample(metainfo=pose2d.metainfo, pred_instances=pred[i])
            for i in range(len(pred))
        ]
