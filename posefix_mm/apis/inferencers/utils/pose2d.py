"""The 2D model before PoseFix: MMPose's configs by name (never a
download) and its 2D inferencer with local, strictly loaded weights."""
import os.path as osp
from typing import Optional

import numpy as np
from mmpose.apis.inference import dataset_meta_from_config
from mmpose.apis.inferencers import Pose2DInferencer

from posefix_mm.utils import apply_checkpoint, few, read_checkpoint


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


class LocalPose2DInferencer(Pose2DInferencer):
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
