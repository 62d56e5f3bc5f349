"""PoseFix: a top-down estimator whose input is the image crop plus the input
pose rendered as Gaussian heatmaps (paper section 5.1)."""
import logging
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from mmpose.models.backbones import ResNet
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from torch import Tensor

from posefix_mm.utils import read_checkpoint
from ..utils import pose_maps_conv, read_input_pose, render_gaussian_heatmaps


def read_image_backbone(source: str) -> dict:
    """The state dict of an image-only ResNet (torchvision key names).

    Args:
        source (str): a local file (read weights-only), or a URL MMEngine
            fetches and caches in torch's hub folder (``torchvision://
            resnet152``, ``https://...``; a cached copy is used offline).

    Raises:
        FileNotFoundError: no such local file.
        RuntimeError: the URL cannot be fetched; the message says how to
            pass a local file instead.
    """
    if '://' not in source:
        return read_checkpoint(source, 'pretrained_backbone')
    try:
        return CheckpointLoader.load_checkpoint(source, map_location='cpu')
    except Exception as e:  # offline: URLError, OSError, ...
        raise RuntimeError(
            f'pretrained_backbone: cannot fetch {source} ({e}). Without a '
            'network, download the ImageNet weights elsewhere (torchvision'
            "'s ResNet .pth) and pass the file: --cfg-options "
            'model.pretrained_backbone=/path/to/resnet.pth; to train from '
            'scratch, say so: model.pretrained_backbone=None') from e


def load_image_backbone(backbone: torch.nn.Module, checkpoint: dict,
                        source: str = 'pretrained_backbone') -> None:
    """Load an image-only ResNet state dict into a backbone whose stem takes
    3 + K channels: the image channels get the weights, the others zero.

    Args:
        backbone (nn.Module): MMPose ResNet with ``in_channels`` 3 + K.
        checkpoint (dict): a state dict, or a dict with ``state_dict``,
            torchvision key names; ``fc.*`` is ignored.
        source (str): names the weights in errors.
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = {k: v for k, v in state.items() if not k.startswith('fc.')}
    stem = backbone.conv1.weight
    if 'conv1.weight' not in state:
        raise KeyError(f'{source}: no conv1.weight (a ResNet state dict?)')
    image_stem = state['conv1.weight']
    if image_stem.shape[1] != 3 or image_stem.shape[0] != stem.shape[0]:
        raise ValueError(f'{source}: conv1.weight {tuple(image_stem.shape)} '
                         f'does not fit the stem {tuple(stem.shape)}')
    full = torch.zeros_like(stem)
    full[:, :3] = image_stem
    state['conv1.weight'] = full
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KeyError(f'{source}: missing {missing}, unexpected '
                       f'{unexpected}')


def crop_to_image(keypoints: np.ndarray, meta: dict) -> np.ndarray:
    """Input-image (crop) coordinates (..., 2) back in the image, as
    ``TopdownPoseEstimator.add_pred_to_datasample`` maps predictions, with
    the sample's ``input_size``, ``input_center`` and ``input_scale``."""
    scale = meta['input_scale']
    return (np.asarray(keypoints) / meta['input_size'] * scale +
            meta['input_center'] - 0.5 * scale).astype(np.float32)


@MODELS.register_module()
class PoseFixEstimator(TopdownPoseEstimator):
    """A ``TopdownPoseEstimator`` that also sees the input pose.

    The input pose travels in ``data_sample.gt_instances.input_keypoints``
    (N, K, 2), crop coordinates, and ``input_keypoints_visible`` (N, K). It
    is rendered here, after the data preprocessor has normalised the image
    (which only handles 1 or 3 channels), as K Gaussian maps at input
    resolution (``input_pose_sigma``; 7 at 256x192, 9 at 384x288) times
    ``input_pose_scale``, invisible joints as zero maps, and concatenated to
    the image: the backbone's stem takes 3 + K channels. (For MMPose's
    ``ResNet`` the stem's response to the maps is computed from their
    separable form instead, the same numbers: :meth:`pose_features`.) The
    official code scales the maps by 255 next to an unnormalised image; next
    to a normalised image (unit scale) the default is 1.

    Flip test flips the image *and* the input pose, swapping the mirror
    joints' channels (MMPose's flip test flips only the image). The head
    (``PoseFixHead``) reads the input pose from the data samples too: it
    renders its input prior at the same sigma (set here) and applies the
    per-joint decision and gate when decoding. Predictions carry the input
    pose too (``pred_instances.input_keypoints``, image coordinates), so the
    input can be evaluated next to the refinement.

    Args:
        input_pose_sigma (float): Gaussian sigma in input pixels.
        input_pose_scale (float): peak value of the rendered maps.
        pretrained_backbone (str, optional): image-only ResNet weights
            (torchvision naming, e.g. ImageNet): ``'torchvision://
            resnet152'`` (fetched once, then from torch's hub cache) or a
            local file; loaded by :meth:`init_weights`, the stem into the
            first 3 input channels, the pose channels at zero. A URL that
            cannot be fetched stops the run with how to pass a local file.
            None: from scratch (said in the log).
        **kwargs: arguments of ``TopdownPoseEstimator``.
    """

    def __init__(self,
                 *args,
                 input_pose_sigma: float = 7.0,
                 input_pose_scale: float = 1.0,
                 pretrained_backbone: Optional[str] = None,
                 **kwargs):
        if input_pose_sigma <= 0:
            raise ValueError(
                f'input_pose_sigma must be > 0, got {input_pose_sigma}')
        head = kwargs.get('head')
        if head is not None:
            given = head.get('input_pose_sigma', input_pose_sigma)
            if given != input_pose_sigma:
                raise ValueError(
                    f'head.input_pose_sigma {given} differs from the '
                    f"estimator's input_pose_sigma {input_pose_sigma}: the "
                    'head renders its prior as the estimator renders the '
                    'input; set only the estimator\'s')
            kwargs['head'] = dict(head, input_pose_sigma=input_pose_sigma)
        super().__init__(*args, **kwargs)
        if pretrained_backbone is not None and '://' not in \
                pretrained_backbone and not osp.isfile(pretrained_backbone):
            raise FileNotFoundError(
                f'pretrained_backbone: no file at {pretrained_backbone}')
        self.input_pose_sigma = input_pose_sigma
        self.input_pose_scale = input_pose_scale
        self.pretrained_backbone = pretrained_backbone

    def init_weights(self):
        super().init_weights()
        if self.pretrained_backbone is None:
            if getattr(self.backbone, 'pretrained', None) is not None:
                return  # the backbone loads its own weights
            print_log(
                'PoseFixEstimator: pretrained_backbone=None: the backbone '
                'starts from scratch (the paper starts from ImageNet)',
                logger='current', level=logging.WARNING)
            return
        load_image_backbone(self.backbone,
                            read_image_backbone(self.pretrained_backbone),
                            self.pretrained_backbone)
        print_log(f'PoseFixEstimator: backbone from '
                  f'{self.pretrained_backbone} (image channels; pose '
                  'channels zero)', logger='current')

    def extract_feat(self, inputs: Tensor, data_samples=None,
                     flip: bool = False) -> Tuple[Tensor]:
        """Backbone (and neck) features of the image plus input-pose maps
        (:meth:`pose_features` with the samples' input pose).

        Without data samples (e.g. complexity analysis) the pose channels
        are zero. ``flip``: the pose is mirrored, joints swapped, to go with
        an image the caller has flipped.
        """
        if data_samples is None:
            b, k = inputs.shape[0], self.head.out_channels
            return self.pose_features(inputs, inputs.new_zeros((b, k, 2)),
                                      inputs.new_zeros((b, k)))
        return self.pose_features(inputs,
                                  *read_input_pose(data_samples, inputs,
                                                   flip))

    def pose_features(self, inputs: Tensor, keypoints: Tensor,
                      visible: Tensor) -> Tuple[Tensor]:
        """Backbone (and neck) features of the normalised images (B, 3, H,
        W) with the input pose, (B, K, 2) input-image coordinates and (B, K)
        visibility, rendered as K more channels.

        With MMPose's ``ResNet`` (7x7 stem), the stem's response to the K
        pose channels is computed from the separable maps without rendering
        them (:func:`pose_maps_conv`: the same numbers, a seventh of the
        stem's pose MACs); other backbones get the rendered maps.
        """
        h, w = inputs.shape[-2:]
        if self._separable_stem():
            x = self._resnet_features(inputs, keypoints, visible)
        else:
            maps = render_gaussian_heatmaps(keypoints, visible, (w, h),
                                            self.input_pose_sigma)
            if self.input_pose_scale != 1:
                maps = maps * self.input_pose_scale
            x = self.backbone(torch.cat([inputs, maps], 1))
        if self.with_neck:
            x = self.neck(x)
        return x

    def _separable_stem(self) -> bool:
        """Whether the backbone is MMPose's ``ResNet`` (or a subclass with
        its forward) with the 7x7 convolution stem."""
        backbone = self.backbone
        return isinstance(backbone, ResNet) and not backbone.deep_stem \
            and type(backbone).forward is ResNet.forward \
            and type(backbone.conv1) is torch.nn.Conv2d

    def _resnet_features(self, inputs: Tensor, keypoints: Tensor,
                         visible: Tensor) -> Tuple[Tensor]:
        """``ResNet.forward`` of the image with the pose channels, the
        stem's convolution split into the image's channels and the pose's
        (:func:`pose_maps_conv`)."""
        backbone, conv = self.backbone, self.backbone.conv1
        h, w = inputs.shape[-2:]
        x = F.conv2d(inputs, conv.weight[:, :inputs.shape[1]], conv.bias,
                     conv.stride, conv.padding)
        pose = pose_maps_conv(conv, keypoints, visible, (w, h),
                              self.input_pose_sigma)
        if self.input_pose_scale != 1:
            pose = pose * self.input_pose_scale
        x = backbone.maxpool(backbone.relu(backbone.norm1(x + pose)))
        outs = []
        for i, name in enumerate(backbone.res_layers):
            x = getattr(backbone, name)(x)
            if i in backbone.out_indices:
                outs.append(x)
        return tuple(outs)

    def _forward(self, inputs: Tensor, data_samples=None):
        return self.head.forward(
            self.extract_feat(inputs, data_samples), data_samples)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        return self.head.loss(
            self.extract_feat(inputs, data_samples),
            data_samples,
            train_cfg=self.train_cfg)

    def predict(self, inputs: Tensor, data_samples):
        feats = self.extract_feat(inputs, data_samples)
        if self.test_cfg.get('flip_test', False):
            feats = [
                feats,
                self.extract_feat(inputs.flip(-1), data_samples, flip=True)
            ]
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        if isinstance(preds, tuple):
            preds, pred_fields = preds
        else:
            pred_fields = None
        return self.add_pred_to_datasample(preds, pred_fields, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances, batch_pred_fields,
                               batch_data_samples):
        # the input pose, mapped to the image as MMPose maps keypoints
        for pred, data_sample in zip(batch_pred_instances,
                                     batch_data_samples):
            pred.input_keypoints = crop_to_image(
                data_sample.gt_instances.input_keypoints,
                data_sample.metainfo)
        return super().add_pred_to_datasample(batch_pred_instances,
                                              batch_pred_fields,
                                              batch_data_samples)
