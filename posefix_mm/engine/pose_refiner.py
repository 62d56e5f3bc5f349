"""``PoseRefiner``: any MMPose pose model followed by PoseFix, as one
model for MMPose's test loop (``tools/test.py``). It runs the refine engine
(:mod:`.refine`: a DataLoader, a progress bar) inside ``forward``, so it
lives here, beside the engine, not among the networks of
``posefix_mm.models``; configs name it by its registered type as before."""
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

from posefix_mm.utils import load_weights
from .refine import pose_samples, refine_pipeline, refine_samples
from .refined import skip_message, write_back


def _config(config: Union[str, dict, Config], what: str) -> Config:
    """A full config from a file, a full config, or a model config."""
    if isinstance(config, Config):
        return config
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'{what}: no config file {config}')
        return Config.fromfile(config)
    return Config(config if 'model' in config else dict(model=config))


@MODELS.register_module()
class PoseRefiner(BaseModel):
    """An MMPose pose model (top-down with its boxes, or bottom-up on the
    whole image) whose predictions become the input pose of PoseFix.

    The data pipeline and preprocessor are the pose model's, with
    ``KeepFullImage`` after ``LoadImage`` and ``'full_img'`` in
    ``PackPoseInputs``' ``meta_keys``: each predicted instance is refined
    in its own PoseFix crop of the image the pipeline loaded (box from the
    keypoints, as a results file is refined). ``pred_instances`` hold the
    refined fields of :mod:`.refined` (the refined
    ``keypoints`` and their scores, the pose model's as ``input_keypoints``
    and ``input_keypoint_scores``, ...), so a ``CocoMetric`` and an
    ``InputPoseCocoMetric`` in the test evaluator report both in one run.
    For testing only: ``mode='loss'`` is refused.

    The two checkpoints load in :meth:`init_weights` (strictly: another
    model's checkpoint is an error), which ``tools/test.py`` calls for a
    config that names its own checkpoints; without them the models are
    UNTRAINED, and a warning says so.

    Args:
        pose_model (str | dict): config file (or model config) of the pose
            model.
        refiner (str | dict): config file (or full config) of PoseFix.
        pose_checkpoint (str, optional): its local checkpoint.
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
        pose_cfg = _config(pose_model, 'pose_model')
        super().__init__(
            data_preprocessor=pose_cfg.model.get('data_preprocessor'),
            init_cfg=init_cfg)
        refiner_cfg = _config(refiner, 'refiner')
        for path, what in ((pose_checkpoint, 'pose_checkpoint'),
                           (refiner_checkpoint, 'refiner_checkpoint')):
            if path is not None and not osp.isfile(path):
                raise FileNotFoundError(f'{what}: no local file {path}')
        self.pose_model = MODELS.build(pose_cfg.model)
        self.refiner = MODELS.build(refiner_cfg.model)
        self.refiner.test_cfg = dict(self.refiner.test_cfg or {},
                                     **(refiner_test_cfg or {}))
        self.checkpoints = dict(
            pose_model=pose_checkpoint, refiner=refiner_checkpoint)
        self.refiner_pipeline = Compose(refine_pipeline(refiner_cfg))
        # PoseFix's keypoint metainfo (flip pairs, sigmas), from its config
        self.refiner_meta = dataset_meta_from_config(refiner_cfg, 'train')
        self.batch_size = batch_size
        self.absent_score_thr = absent_score_thr

    def init_weights(self):
        """Each part from its checkpoint, or initialised (and UNTRAINED)."""
        for name, path in self.checkpoints.items():
            model = getattr(self, name)
            what = ('pose_checkpoint'
                    if name == 'pose_model' else 'refiner_checkpoint')
            if path is None:
                model.init_weights()
                message = (f'PoseRefiner: no {what} given: this model is '
                           'UNTRAINED (random weights) and its results '
                           'mean nothing')
                warnings.warn(message)
                print_log(message, logger='current', level=logging.WARNING)
            else:
                load_weights(model, path, what)

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode != 'predict':
            raise RuntimeError(f'PoseRefiner is for testing; mode={mode!r} '
                               'is not supported')
        results = self.pose_model.forward(inputs, data_samples, mode)
        samples = []
        for index, sample in enumerate(results):
            if 'full_img' not in sample.metainfo:
                raise KeyError(
                    "PoseRefiner: the data samples carry no 'full_img': "
                    "add dict(type='KeepFullImage') after LoadImage and "
                    "'full_img' to PackPoseInputs' meta_keys (see configs/"
                    'refine/)')
            pred = sample.pred_instances
            pred.input_keypoints = np.asarray(pred.keypoints,
                                              np.float32).copy()
            samples += pose_samples(
                pred.input_keypoints,
                np.asarray(pred.keypoint_scores, np.float32),
                self.refiner_meta,
                self.absent_score_thr,
                sample_index=index,
                img_id=sample.metainfo.get('img_id', 0),
                img=sample.metainfo['full_img'],
                img_path=sample.metainfo.get('img_path'))
        outputs, skipped = refine_samples(self.refiner, samples,
                                          self.refiner_pipeline,
                                          self.batch_size, progress=False)
        if skipped:
            print_log(f'PoseRefiner: {skip_message(skipped)}',
                      logger='current', level=logging.WARNING)
        for index, sample in enumerate(results):
            pred = sample.pred_instances
            mine = [o for o in outputs if o.info['sample_index'] == index]
            for name, value in write_back(pred.input_keypoints,
                                          pred.keypoint_scores, mine,
                                          self.absent_score_thr).items():
                pred.set_field(value, name)
            # not worth keeping: the evaluators need no pixels
            sample.set_metainfo(dict(full_img=None))
        return results
