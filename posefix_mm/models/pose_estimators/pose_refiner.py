"""Any MMPose pose model followed by PoseFix, as one model for testing."""
import logging
import os.path as osp
import warnings
from typing import Optional, Union

import numpy as np
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpose.apis.inference import dataset_meta_from_config
from mmpose.registry import MODELS

from posefix_mm.datasets.coco_results import UnusableEntry, input_pose_sample
from posefix_mm.utils import load_weights


def _model_cfg(model: Union[str, dict]) -> Config:
    if isinstance(model, str):
        if not osp.isfile(model):
            raise FileNotFoundError(f'no config file {model}')
        return Config.fromfile(model)
    return Config(dict(model=model))


def _build(cfg: Config, checkpoint: Optional[str], what: str):
    """The model of ``cfg`` with the weights of ``checkpoint``, loaded
    strictly; without a checkpoint it is untrained, and a warning says so
    loudly (its results mean nothing)."""
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        model.init_weights()
        message = (f'PoseRefiner: no {what} given: this model is UNTRAINED '
                   '(random weights) and its results mean nothing')
        warnings.warn(message)
        print_log(message, logger='current', level=logging.WARNING)
    else:
        load_weights(model, checkpoint, what)
    model.cfg = cfg
    return model


@MODELS.register_module()
class PoseRefiner(BaseModel):
    """An MMPose pose model (top-down with its boxes, or bottom-up on the
    whole image) whose predictions become the input pose of PoseFix.

    The data pipeline and preprocessor are the pose model's; for each of
    its predicted instances PoseFix reads the image again (``img_path``)
    and refines the pose as it refines a results file (box from the
    keypoints, its own crop and resolution). ``pred_instances.keypoints``
    are the refined poses and ``pred_instances.input_keypoints`` the pose
    model's, so a ``CocoMetric`` and an ``InputPoseCocoMetric`` in the test
    evaluator report both in one run. Scores stay the pose model's. For
    testing only: ``mode='loss'`` is refused.

    Args:
        pose_model (str | dict): config file (or model config) of the pose
            model.
        pose_checkpoint (str, optional): its local checkpoint.
        refiner (str | dict): config file (or full config dict) of PoseFix.
        refiner_checkpoint (str, optional): its local checkpoint.
        refiner_test_cfg (dict, optional): merged into PoseFix's test_cfg.
        batch_size (int): PoseFix batch size.
        absent_score_thr (float, optional): pose-model joints scored at or
            below this are absent: PoseFix estimates them from the image
            (see :func:`~posefix_mm.datasets.coco_results.present_joints`).
            Default None: only joints at (0, 0).
    """

    def __init__(self,
                 pose_model: Union[str, dict],
                 refiner: Union[str, dict],
                 pose_checkpoint: Optional[str] = None,
                 refiner_checkpoint: Optional[str] = None,
                 refiner_test_cfg: Optional[dict] = None,
                 batch_size: int = 32,
                 absent_score_thr: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        from posefix_mm.apis.refine_results import test_pipeline
        pose_cfg = _model_cfg(pose_model)
        super().__init__(
            data_preprocessor=pose_cfg.model.get('data_preprocessor'),
            init_cfg=init_cfg)
        self.pose_model = _build(pose_cfg, pose_checkpoint, 'pose_checkpoint')
        refiner_cfg = refiner if isinstance(refiner, Config) else (
            Config.fromfile(refiner) if isinstance(refiner, str) else
            Config(refiner))
        self.refiner = _build(refiner_cfg, refiner_checkpoint,
                              'refiner_checkpoint')
        self.refiner.test_cfg = dict(self.refiner.test_cfg or {},
                                     **(refiner_test_cfg or {}))
        self.refiner_pipeline = Compose(test_pipeline(refiner_cfg))
        # PoseFix's keypoint metainfo (flip pairs, sigmas), from its config
        self.refiner_meta = dataset_meta_from_config(refiner_cfg, 'train')
        self.batch_size = batch_size
        self.absent_score_thr = absent_score_thr

    def init_weights(self):
        # both parts come with their checkpoints
        pass

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode != 'predict':
            raise RuntimeError(f'PoseRefiner is for testing; mode={mode!r} '
                               'is not supported')
        results = self.pose_model.forward(inputs, data_samples, mode)
        infos = [
            info for index, sample in enumerate(results)
            for info in self._instances(index, sample)
        ]
        if not infos:
            return results
        from posefix_mm.apis.refine_results import refine_samples
        outputs, skipped = refine_samples(
            self.refiner, infos, self.refiner_pipeline, self.batch_size,
            progress=False)
        if skipped:
            raise RuntimeError(f'PoseRefiner could not read images: '
                               f'{dict(skipped)}')
        for output in outputs:
            info = output.info
            pred = results[info['sample_index']].pred_instances
            pred.keypoints[info['instance_index']] = output.keypoints
        return results

    def _instances(self, index: int, sample) -> list:
        """PoseFix inputs of one sample's predicted instances (box from the
        keypoints); the base prediction is kept as ``input_keypoints``, and
        an instance without a present joint stays unrefined."""
        pred = sample.pred_instances
        pred.input_keypoints = np.asarray(pred.keypoints, np.float32).copy()
        scores = np.asarray(pred.keypoint_scores, np.float32)
        meta = self.refiner_meta
        infos = []
        for i, kpts in enumerate(pred.input_keypoints):
            try:
                infos.append(
                    input_pose_sample(
                        kpts,
                        scores[i],
                        box_source='keypoints',
                        absent_score_thr=self.absent_score_thr,
                        id=i,
                        sample_index=index,
                        instance_index=i,
                        img_id=sample.metainfo.get('img_id', 0),
                        img_path=sample.metainfo['img_path'],
                        flip_indices=meta['flip_indices'],
                        sigmas=meta['sigmas']))
            except UnusableEntry:
                continue
        return infos
