"""PoseFix after any MMPose 2D model, as an MMPose inferencer."""
import logging
import mimetypes
import os
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
                               refine_samples, refined_fields, skip_message,
                               write_back)
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


def mmpose_config(name: str) -> Optional[str]:
    """The model config called ``name`` (a model name of MMPose's model
    zoo, with or without ``.py``) among the configs MMPose ships inside its
    package (``mmpose/.mim/configs``, not ``_base_``), or None; a name of
    several configs is an error that lists them. Only the config: weights
    stay a local file."""
    import glob
    import mmpose
    if osp.basename(name) != name or not name:
        return None
    stem = name[:-3] if name.endswith('.py') else name
    root = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs')
    found = sorted(
        path for path in glob.glob(
            osp.join(root, '**', glob.escape(stem) + '.py'), recursive=True)
        if '_base_' not in osp.relpath(path, root).split(osp.sep))
    if len(found) > 1:
        raise ValueError(f'pose2d: {name!r} names {len(found)} configs of '
                         f'MMPose ({few(found)}): pass the path of one')
    return found[0] if found else None


def model_aliases() -> dict:
    """MMPose's model aliases (``'human'``, ``'rtmo'``, ...) and the model
    name each stands for, from the metafiles of the installed package (no
    download)."""
    from mmpose.apis.inferencers.utils import get_model_aliases
    return get_model_aliases('mmpose')


def resolve_pose2d(pose2d: str) -> str:
    """``pose2d`` as a local config file: a path, or the name of one of
    MMPose's packaged configs. A model alias is an error that names the
    model it stands for (its weights would be a download)."""
    if osp.isfile(pose2d):
        return pose2d
    found = mmpose_config(pose2d)
    if found:
        return found
    alias = model_aliases().get(pose2d)
    hint = (f" ({pose2d!r} is MMPose's alias of {alias}: pass that config "
            'name as pose2d and its weights as a local file)'
            if alias else '')
    raise FileNotFoundError(
        f'pose2d: {pose2d!r} is not a local config file nor a config of '
        "MMPose's package (posefix_mm never downloads configs or weights, "
        f'so model aliases do not work){hint}')


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


def _local_file(path: Optional[str], what: str, kind: str) -> None:
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


def _media_type(path: str) -> Optional[str]:
    """``'image'``, ``'video'``, ... by the file name (as MMPose's
    inferencers tell them), None when unknown."""
    kind = mimetypes.guess_type(path)[0]
    return kind.split('/')[0] if kind else None


def _check_video(path: str) -> None:
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


def _check_folder(path: str) -> None:
    """A folder with at least one image (by its name), only images and
    files MMPose can tell (a file of unknown type would stop MMPose's
    listing half-way), or a one-line error naming it."""
    names = sorted(n for n in os.listdir(path)
                   if osp.isfile(osp.join(path, n)))
    unknown = [n for n in names if _media_type(n) is None]
    if unknown:
        raise ValueError(f'RefineInferencer: {path}: {few(unknown)} are no '
                         'image files (by their names); a folder of images '
                         'only')
    if not any(_media_type(n) == 'image' for n in names):
        raise ValueError(f'RefineInferencer: {path}: a folder without images')


class MissingWeights(ValueError):
    """A model of the inferencer has no checkpoint and random weights were
    not asked for."""


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

    def preprocess_single(self, input, index: int, bbox_thr: float = 0.3,
                          nms_thr: float = 0.3, bboxes=()):
        """MMPose's, with given ``bboxes`` (N, 4) x1 y1 x2 y2 (or (N, 5)
        with scores) used when there is no detector: MMPose 1.3 ignores
        them then and takes the whole image."""
        if self.detector is not None or self.cfg.data_mode != 'topdown' \
                or len(bboxes) == 0:
            return super().preprocess_single(input, index, bbox_thr,
                                             nms_thr, bboxes)
        boxes = np.asarray(bboxes, np.float32).reshape(len(bboxes), -1)
        if boxes.shape[1] not in (4, 5):
            raise ValueError('bboxes: (N, 4) x1 y1 x2 y2 or (N, 5) with a '
                             f'score, got {boxes.shape}')
        if isinstance(input, str):
            info = dict(img_path=input)
        else:
            info = dict(img=input, img_path=f'{index}.jpg'.rjust(10, '0'))
        info.update(self.model.dataset_meta)
        return [
            self.pipeline(
                dict(info,
                     bbox=box[None, :4],
                     bbox_score=box[4:5] if len(box) == 5 else np.ones(
                         1, np.float32))) for box in boxes
        ]


@INFERENCERS.register_module(name='pose-refinement')
@INFERENCERS.register_module()
class RefineInferencer(BaseMMPoseInferencer):
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
    package: :func:`resolve_pose2d`); a missing path or a model alias is
    an error, never a download.

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

    preprocess_kwargs: set = {
        'bbox_thr', 'nms_thr', 'bboxes', 'pose_based_nms'
    }
    forward_kwargs: set = {'merge_results', 'use_oks_tracking', 'tracking_thr'}
    visualize_kwargs: set = {
        'return_vis', 'show', 'wait_time', 'draw_bbox', 'radius',
        'thickness', 'kpt_thr', 'vis_out_dir', 'black_background',
        'skeleton_style', 'draw_heatmap'
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
                 absent_score_thr: Optional[float] = None,
                 random_weights: bool = False):
        if refiner is None:
            raise ValueError('refiner: a local PoseFix config is required')
        pose2d = resolve_pose2d(pose2d)
        _local_file(pose2d_weights, 'pose2d_weights', 'checkpoint')
        _local_file(refiner, 'refiner', 'config')
        _local_file(refiner_weights, 'refiner_weights', 'checkpoint')
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
        self._check_inputs(inputs)
        self.skipped_images = []
        if self._whole_image_topdown and kwargs.get('bboxes') is None:
            print_log(WHOLE_IMAGE_NOTICE, logger='current',
                      level=logging.WARNING)
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
            elif osp.isdir(item):
                _check_folder(item)
            elif _media_type(item) == 'video':
                _check_video(item)

    def preprocess(self, inputs, batch_size: int = 1, bboxes=None,
                   **kwargs):
        """Per input: the 2D model's poses and PoseFix's samples of them.
        ``batch_size`` is MMPose's (one image at a time); PoseFix refines
        all poses of an image in one batch. ``bboxes`` are checked before
        the first input (:func:`check_bboxes`)."""
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

    def update_model_visualizer_settings(self,
                                         draw_heatmap: bool = False,
                                         skeleton_style: str = 'mmpose',
                                         **kwargs) -> None:
        """As MMPose's ``Pose2DInferencer``: the 2D model returns its
        heatmaps with ``draw_heatmap``; the visualizer draws
        ``skeleton_style`` (``'mmpose'`` or ``'openpose'``)."""
        if skeleton_style not in ('mmpose', 'openpose'):
            raise ValueError("skeleton_style must be 'mmpose' or 'openpose', "
                             f'got {skeleton_style!r}')
        self._draw_heatmap = draw_heatmap  # the 2D model's calls pass it
        self.visualizer.set_dataset_meta(self.model.dataset_meta,
                                         skeleton_style)

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
        self._track(pred, use_oks_tracking, tracking_thr)
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

    def _track(self, pred: InstanceData, use_oks: bool, thr: float) -> None:
        """Track ids of the refined instances (see :meth:`forward`), with
        MMPose's greedy matching (``mmpose.apis.inference_tracking``)."""
        from mmpose.apis.inference_tracking import (_track_by_iou,
                                                    _track_by_oks)
        if not self._video_input:
            self._buffer.pop('tracked_last', None)
            self._buffer.pop('next_id', None)
        last = self._buffer.get('tracked_last', [])
        if 'bboxes' not in pred:
            pred.bboxes = np.concatenate(
                [pred.keypoints.min(1), pred.keypoints.max(1)], 1)
        sigmas = self.model.dataset_meta.get('sigmas')
        singles, ids = [], np.empty(len(pred), np.int64)
        for i in range(len(pred)):
            single = PoseDataSample(pred_instances=pred[i])
            box = np.asarray(pred.bboxes[i], np.float64)
            single.pred_instances.areas = np.array(
                [(box[2] - box[0]) * (box[3] - box[1])])
            if use_oks:
                track_id, last, _ = _track_by_oks(single, last, thr, sigmas)
            else:
                track_id, last, _ = _track_by_iou(single, last, thr)
            if track_id == -1:
                track_id = self._buffer.get('next_id', 0)
                self._buffer['next_id'] = track_id + 1
            ids[i] = track_id
            single.track_id = int(track_id)
            singles.append(single)
        self._buffer['tracked_last'] = singles
        pred.track_id = ids

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
                  black_background: bool = False,
                  skeleton_style: str = 'mmpose',
                  draw_heatmap: bool = False) -> List[np.ndarray]:
        """One picture per image: the refined poses of all its instances
        drawn by MMPose's ``PoseLocalVisualizer``
        (:func:`~posefix_mm.visualization.draw_refinement`: the joints the
        refiner placed, the kept ones scored at least ``kpt_thr``, an arrow
        from each 2D joint that moved, a legend); with ``draw_heatmap``,
        the 2D model's heatmaps below, as MMPose draws them."""
        if not (return_vis or show or vis_out_dir) or not preds:
            return []
        self.visualizer.radius = radius
        self.visualizer.line_width = thickness
        img = self._buffer['img'][..., ::-1]  # RGB
        if black_background:
            img = img * 0
        img_name = osp.basename(preds[0].metainfo['img_path'])
        picture = draw_refinement(
            self.visualizer,
            img,
            InstanceData.cat([p.pred_instances for p in preds]),
            kpt_thr=kpt_thr,
            draw_bbox=draw_bbox,
            skeleton_style=skeleton_style)
        pose2d = self._buffer['pose2d']
        if draw_heatmap and 'pred_fields' in pose2d:
            heatmap = self.visualizer._draw_instance_heatmap(
                pose2d.pred_fields, img)
            if heatmap is not None:
                picture = np.concatenate([picture, heatmap], 0)
        if show:
            self.visualizer.show(
                picture,
                win_name=window_name or img_name,
                wait_time=1e-5 if self._video_input else wait_time)
        if vis_out_dir:
            self.save_visualization(picture, vis_out_dir, img_name)
        return [picture] if return_vis else []

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
        # the instances of the image (one sample each without
        # merge_results) in one file
        pred = [instance for p in predictions for instance in p]
        if self._video_input:
            self.video_info['predictions'].append(pred)
        elif preds:
            name = osp.splitext(osp.basename(
                preds[0].metainfo['img_path']))[0]
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
    Python numbers only (JSON-serialisable), plus the refined fields a
    results entry holds, by the same serialiser
    (:func:`~posefix_mm.engine.refined_fields`)."""
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
        if 'keypoint_peaks' in instances:
            probs = instances.get('keypoint_refine_probs')
            result.update(
                refined_fields(
                    instances.keypoint_peaks[i], instances.input_absent[i],
                    instances.keypoints_refined[i],
                    None if probs is None else probs[i]))
        results.append(result)
    return results
