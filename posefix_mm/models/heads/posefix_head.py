"""PoseFix's head: SimpleBaseline upsampling with skip connections, softmax
heatmaps and soft-argmax coordinates (paper section 5)."""
from typing import Optional, Sequence, Tuple

import torch
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor, nn

from posefix_mm.utils.checkpoint import read_checkpoint
from posefix_mm.utils.paths import pretrained_file
from ..utils import read_input_pose, render_gaussian_heatmaps, soft_argmax
from .joint_decision import (crop_person_area, samples_bbox_padding,
                             samples_sigmas)
from .refine_decoding import (KEYPOINT_SCORE_MODES, HeadPrediction,
                              RefineDecodingMixin, keeps_input)

__all__ = [
    'KEYPOINT_SCORE_MODES', 'HeadPrediction', 'PoseFixHead', 'keeps_input'
]


def _deconv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(
            in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class PoseFixHead(RefineDecodingMixin, BaseHead):
    """Three 4x4 stride-2 deconvolutions (BN, ReLU) from the last backbone
    stage, each followed by a skip connection from the backbone stage of the
    same scale (a 1x1 convolution and BN, added; ``skip_channels=None`` is
    the official code's variant without them), then a 1x1 convolution to K
    heatmap logits at 1/4 input resolution.

    Outputs: a softmax over each heatmap and its expectation (soft-argmax)
    in heatmap pixels. Loss: ``loss_heatmap`` (cross-entropy against the
    bilinear one-hot, L_H) + ``loss_coord`` (L1 on coordinates, L_C), both
    weighted by the target weights, 1:1 by default.

    Input prior (optional, ``input_prior_beta``): ``beta * log(P + eps)``,
    with P the input pose rendered at output resolution, is added to the
    logits and the last layer starts at zero, so an untrained head returns
    the input pose and training learns corrections.

    Test time (:class:`~.refine_decoding.RefineDecodingMixin`): the flip
    test, the keypoint scores, the per-joint decision (optional,
    ``decision``, a :class:`JointDecision`, or ``test_cfg['decision_model']``)
    and the do-no-harm gate.

    The head reads the input pose from the data samples
    (``gt_instances.input_keypoints``, packed by ``PackPoseFixInputs``), and
    measures keypoint similarity with the ``sigmas`` and ``bbox_padding`` of
    their metainfo.

    Args:
        in_channels (int): channels of the last backbone stage.
        out_channels (int): K.
        skip_channels (Sequence[int], optional): channels of the backbone
            stages at 1/16, 1/8, 1/4 of the input (the features before the
            last, in reverse order). None: no skip connections.
        deconv_channels (int): channels of the upsampling layers. 256.
        num_deconvs (int): 3 (upsampling from stride 32), or 0 for a
            backbone that ends at stride 4 (``BlazePoseBackbone``): the
            final layer then reads ``in_channels`` features directly.
        pretrained_final_layer (dict, optional): start the final layer from
            rows of a pretrained heatmap layer: ``checkpoint`` (a local
            file, or ``posefix_mm://...``: :mod:`posefix_mm.utils.paths`),
            ``prefix`` of its keys (``'heatmap.'``), ``rows`` (the
            pretrained output channel of each of the K joints). Loaded by
            :meth:`init_weights`, also with the input prior (the refiner
            then starts as the pretrained heatmap times the input pose).
        input_prior_beta (float, optional): weight of the input prior.
        prior_eps (float): the prior's floor inside the log.
        input_pose_sigma (float): Gaussian sigma of the input pose in input
            pixels (``PoseFixEstimator`` sets its own).
        loss_heatmap (dict): L_H config.
        loss_coord (dict): L_C config.
        decision (dict, optional): a :class:`JointDecision` config;
            ``in_channels`` and ``num_keypoints`` are filled in.
        decoder (dict): the codec (``PoseFixLabel``).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 skip_channels: Optional[Sequence[int]] = (1024, 512, 256),
                 deconv_channels: int = 256,
                 num_deconvs: int = 3,
                 pretrained_final_layer: Optional[dict] = None,
                 input_prior_beta: Optional[float] = None,
                 prior_eps: float = 1e-6,
                 input_pose_sigma: float = 7.0,
                 loss_heatmap: dict = dict(type='SoftmaxHeatmapCELoss'),
                 loss_coord: dict = dict(
                     type='L1Loss', use_target_weight=True),
                 decision: Optional[dict] = None,
                 decoder: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if skip_channels is not None and len(skip_channels) != 3:
            raise ValueError('skip_channels needs the channels of 3 stages '
                             f'(1/16, 1/8, 1/4), got {skip_channels}')
        if num_deconvs not in (0, 3):
            raise ValueError(f'num_deconvs must be 0 or 3, got {num_deconvs}')
        if num_deconvs == 0 and skip_channels is not None:
            raise ValueError('num_deconvs=0 has no skip connections: set '
                             'skip_channels=None')
        self.out_channels = out_channels
        self.pretrained_final_layer = pretrained_final_layer
        self.input_prior_beta = input_prior_beta
        self.prior_eps = prior_eps
        self.input_pose_sigma = input_pose_sigma
        self.deconvs = nn.ModuleList([
            _deconv_block(c, deconv_channels)
            for c in (in_channels, deconv_channels, deconv_channels)
        ][:num_deconvs])
        if num_deconvs == 0:
            deconv_channels = in_channels
        self.skips = None if skip_channels is None else nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(c, deconv_channels, 1, bias=False),
                nn.BatchNorm2d(deconv_channels)) for c in skip_channels
        ])
        self.final_layer = nn.Conv2d(deconv_channels, out_channels, 1)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_coord = MODELS.build(loss_coord)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder else None
        self.decision = None if decision is None else MODELS.build(
            dict(
                dict(in_channels=deconv_channels, num_keypoints=out_channels),
                **decision))

    @property
    def uses_input_prior(self) -> bool:
        return self.input_prior_beta is not None

    def init_weights(self):
        super().init_weights()
        for m in self.deconvs.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        if self.uses_input_prior:
            # start as the identity on the input pose
            nn.init.zeros_(self.final_layer.weight)
        else:
            nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)
        if self.pretrained_final_layer is not None:
            self._load_final_layer(**self.pretrained_final_layer)

    def _load_final_layer(self, checkpoint: str, rows: Sequence[int],
                          prefix: str = 'heatmap.') -> None:
        """The final layer from ``rows`` of a pretrained 1x1 layer."""
        checkpoint = pretrained_file(checkpoint, 'pretrained_final_layer')
        state = read_checkpoint(checkpoint, 'pretrained_final_layer')
        state = state.get('state_dict', state)
        weight, bias = (state.get(prefix + k) for k in ('weight', 'bias'))
        if weight is None or bias is None:
            raise KeyError(f'pretrained_final_layer: {checkpoint} has no '
                           f'{prefix}weight and {prefix}bias')
        rows = list(rows)
        if len(rows) != self.out_channels or \
                weight.shape[1:] != self.final_layer.weight.shape[1:]:
            raise ValueError(
                f'pretrained_final_layer: {len(rows)} rows of '
                f'{tuple(weight.shape)} do not fit the final layer '
                f'{tuple(self.final_layer.weight.shape)}')
        self.final_layer.weight.data.copy_(weight[rows])
        self.final_layer.bias.data.copy_(bias[rows])

    def forward(self, feats: Tuple[Tensor], batch_data_samples=None):
        """Heatmap logits (B, K, H, W) from the backbone features.

        Args:
            feats (tuple[Tensor]): backbone stages, last one deepest.
            batch_data_samples (list, optional): the samples, whose input
                pose the input prior is rendered from (required with
                ``input_prior_beta``).
        """
        prior = None
        if self.uses_input_prior:
            if batch_data_samples is None:
                raise ValueError('PoseFixHead with input_prior_beta needs '
                                 'the data samples (their input pose)')
            prior = self._prior(read_input_pose(batch_data_samples,
                                                feats[-1]))
        return self._logits(feats, prior)[0]

    def _prior(self, input_pose: Tuple[Tensor, Tensor]) -> Tensor:
        """The input pose rendered at output resolution (B, K, H, W), at
        the estimator's input-pose sigma."""
        kpts, vis = input_pose
        stride = self.decoder.stride
        return render_gaussian_heatmaps(
            self._heatmap_units(kpts), vis, self.decoder.heatmap_size,
            self.input_pose_sigma / float(stride[0]))

    def _logits(self, feats: Tuple[Tensor], prior: Optional[Tensor]):
        """Heatmap logits, the features they come from (B, C, H, W) and the
        logits without the input prior (the image's say)."""
        x = feats[-1]
        for i, deconv in enumerate(self.deconvs):
            x = deconv(x)
            if self.skips is not None:
                x = x + self.skips[i](feats[-2 - i])
        image_logits = logits = self.final_layer(x)
        if prior is not None:
            logits = logits + self.input_prior_beta * torch.log(
                prior + self.prior_eps)
        return logits, x, image_logits

    def _outputs(self, feats, input_pose: Tuple[Tensor, Tensor],
                 area: Optional[Tensor], sigmas: Optional[Tensor]) -> tuple:
        """Logits and probabilities (B, K, H, W), coordinates (B, K, 2),
        the decision logits (B, K) when there is a decision, and the logits
        without the input prior, for the input pose ((B, K, 2) input-image
        coordinates, (B, K) visibility) seen in ``feats``; ``area`` (B, 1)
        and ``sigmas`` (K, ) are the decision's.
        """
        prior = self._prior(input_pose) if self.uses_input_prior else None
        logits, x, image_logits = self._logits(feats, prior)
        coords, probs = soft_argmax(logits)
        decision = None
        if self.decision is not None:
            decision = self.decision(x, logits, coords,
                                     self._heatmap_units(input_pose[0]),
                                     sigmas, area)
        return logits, probs, coords, decision, image_logits

    def _heatmap_units(self, keypoints: Tensor) -> Tensor:
        return keypoints / keypoints.new_tensor(self.decoder.stride)

    def person_area(self, bbox_padding: Tensor) -> Tensor:
        """(B, 1) person areas in heatmap pixels from the (B, ) paddings of
        the crops (see :func:`crop_person_area`)."""
        return crop_person_area(self.decoder.heatmap_size,
                                bbox_padding[:, None])

    def _decision_inputs(self, batch_data_samples: list, like: Tensor,
                         needed: bool) -> tuple:
        """The person areas (B, 1) and keypoint sigmas (K, ) of the samples
        when ``needed`` (the decision, the gate), else Nones."""
        if not needed:
            return None, None
        return (self.person_area(
            samples_bbox_padding(batch_data_samples, like)),
                samples_sigmas(batch_data_samples, like))

    def loss(self,
             feats: Tuple[Tensor],
             batch_data_samples: list,
             train_cfg: Optional[dict] = None) -> dict:
        """L_H and L_C, and the decision loss when there is a decision."""
        input_pose = read_input_pose(batch_data_samples, feats[-1])
        area, sigmas = self._decision_inputs(batch_data_samples, feats[-1],
                                             self.decision is not None)
        logits, _, coords, decision, _ = self._outputs(
            feats, input_pose, area, sigmas)
        target = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples])
        labels = torch.cat(
            [d.gt_instance_labels.keypoint_labels for d in batch_data_samples])
        weights = torch.cat([
            d.gt_instance_labels.keypoint_weights for d in batch_data_samples
        ])
        losses = dict(
            loss_heatmap=self.loss_heatmap(logits, target, weights),
            loss_coord=self.loss_coord(coords, labels, weights))
        if decision is not None:
            losses['loss_decision'] = self.decision.loss(
                decision, coords, self._heatmap_units(input_pose[0]),
                input_pose[1], labels, weights, area, sigmas)
        h, w = logits.shape[-2:]
        _, acc, _ = keypoint_pck_accuracy(
            pred=to_numpy(coords),
            gt=to_numpy(labels),
            mask=to_numpy(weights) > 0,
            thr=0.05,
            norm_factor=to_numpy(coords.new_tensor([[w, h]]).expand(
                len(coords), 2)))
        losses['acc_pose'] = torch.tensor(acc, device=coords.device)
        return losses
