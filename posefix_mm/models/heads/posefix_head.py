"""PoseFix's head: SimpleBaseline upsampling with skip connections, softmax
heatmaps and soft-argmax coordinates (paper section 5)."""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor, nn

from posefix_mm.utils.checkpoint import read_checkpoint
from posefix_mm.utils.paths import pretrained_file
from posefix_mm.utils.keypoint_similarity import keypoint_similarity
from ..utils import (flip_input_pose, read_input_pose, read_input_scores,
                     render_gaussian_heatmaps, soft_argmax, unflip_coordinates)
from .decision_cues import CueDecision, decision_cues
from .joint_decision import crop_person_area

#: how refined joints are scored: ``'input'`` the input's score (an absent
#: joint the refiner's peak), ``'heatmap'`` the refiner's peak; the refine
#: contract (``engine/refined.py``) uses the same
KEYPOINT_SCORE_MODES = ('input', 'heatmap')


class HeadPrediction(NamedTuple):
    """:meth:`PoseFixHead.predict_tensors`: coordinates (B, K, 2) in heatmap
    pixels, probabilities (B, K, H, W), their peaks (B, K), and, with a
    decision, each joint's refine probability (B, K), with a gate the gated
    joints (B, K) (else None); ``kept`` (B, K): the present joints whose
    coordinates are the input point (kept by the decision or the gate);
    with a decision, its cues (B, K, C) (:func:`.decision_cues`)."""
    coords: Tensor
    probs: Tensor
    peaks: Tensor
    refine_probs: Optional[Tensor] = None
    gated: Optional[Tensor] = None
    kept: Optional[Tensor] = None
    cues: Optional[Tensor] = None


def keeps_input(refine_probs, present, thr: Optional[float]):
    """The joints that keep their input point under the per-joint decision
    (tensors or arrays of the same shape): present joints whose refine
    probability is below ``thr``; with ``thr >= 1`` every present joint (only
    absent joints are placed by the refiner); None: none."""
    if thr is None:
        return present & False
    return present & ((refine_probs < thr) | (thr >= 1))


def _softmax_maps(logits: Tensor) -> Tensor:
    """A softmax over each (H, W) map of (B, K, H, W) logits."""
    return logits.flatten(2).softmax(-1).view_as(logits)


def _deconv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(
            in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()
class PoseFixHead(BaseHead):
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

    Keypoint scores of the predictions (``test_cfg['keypoint_score']``):
    ``'input'`` (default, as the official code) the input's where the
    samples carry them (``input_keypoint_scores``: a results file, a 2D
    model; they come out as ``input_keypoint_scores`` too), an absent joint
    the refiner's peak, as the refine contract (``engine/refined.py``) has
    it; a synthesized input has no scores: 1 for every joint, so
    CocoMetric's instance score is the input instance score; ``'heatmap'``
    the peak of each softmax heatmap (always in ``keypoint_peaks``).

    Per-joint decision (optional, ``decision``, a :class:`JointDecision`):
    predicts for each joint the probability that the refined joint is
    nearer the ground truth than the input joint, trained with the rest of
    the model on the synthesized inputs (labels are free there). With
    ``test_cfg['decision_model']`` (a :class:`~.decision_cues.CueDecision`
    or its dict) that probability is instead a logistic model of the
    joint's cues (:func:`~.decision_cues.decision_cues`, which come out as
    ``keypoint_decision_cues``) and, when calibrated with them, the input's
    joint scores (``input_keypoint_scores``). When
    decoding, a joint whose probability is below ``test_cfg['decision_thr']``
    (default 0.5; None: always refined; 1 or more: every present joint)
    keeps its input point; the
    probabilities come out as ``keypoint_refine_probs`` (1 for absent input
    joints, which only the refiner can place). With ``test_cfg['gate'] =
    dict(ks=..., min_peak=...)`` each joint then passes the do-no-harm gate
    (:meth:`_gate`; ``gated`` marks the joints that kept their input).

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

    @staticmethod
    def _sigmas(batch_data_samples: list, like: Tensor) -> Tensor:
        meta = batch_data_samples[0].metainfo
        if 'sigmas' not in meta:
            raise KeyError('PoseFixHead: the per-joint decision and the '
                           'gate need the keypoint sigmas in the metainfo '
                           '(PackPoseFixInputs packs them)')
        return like.new_tensor(meta['sigmas'])

    @staticmethod
    def _bbox_padding(batch_data_samples: list, like: Tensor) -> Tensor:
        paddings = [d.metainfo.get('bbox_padding') for d in batch_data_samples]
        if None in paddings:
            raise KeyError('PoseFixHead: the per-joint decision and the '
                           'gate need bbox_padding in the metainfo '
                           '(PackPoseFixInputs packs it)')
        return like.new_tensor(paddings)

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
            self._bbox_padding(batch_data_samples, like)),
                self._sigmas(batch_data_samples, like))

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

    def predict(self,
                feats,
                batch_data_samples: list,
                test_cfg: Optional[dict] = None) -> List:
        """Keypoints in input-image coordinates (before the estimator maps
        them to the image): :meth:`predict_tensors` on the input pose,
        person areas, sigmas and flip indices of the samples.

        With ``test_cfg['flip_test']``, ``feats`` is a pair (of the image,
        of the mirrored image with the mirrored input pose).
        """
        test_cfg = test_cfg or {}
        mode = test_cfg.get('keypoint_score', 'input')
        if mode not in KEYPOINT_SCORE_MODES:
            raise ValueError(f'test_cfg.keypoint_score must be one of '
                             f'{KEYPOINT_SCORE_MODES}, got {mode!r}')
        flipped = flip_indices = None
        if test_cfg.get('flip_test', False):
            feats, flipped = feats
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
        like = feats[-1]
        area, sigmas = self._decision_inputs(
            batch_data_samples, like, self.decision is not None
            or bool(test_cfg.get('gate'))
            or test_cfg.get('decision_model') is not None)
        input_pose = read_input_pose(batch_data_samples, like)
        input_scores = read_input_scores(batch_data_samples, like)
        out = self.predict_tensors(feats, input_pose, area, sigmas,
                                   test_cfg, flipped, flip_indices,
                                   input_scores)
        preds = self.decode(out.coords.unsqueeze(1))
        peaks = to_numpy(out.peaks)
        present = input_pose[1] > 0
        fields = dict(keypoint_refine_probs=out.refine_probs,
                      gated=out.gated, keypoints_kept=out.kept,
                      keypoint_decision_cues=out.cues,
                      input_keypoint_scores=input_scores,
                      input_absent=~present,
                      keypoints_refined=~(out.kept & present))
        fields = {k: to_numpy(v) for k, v in fields.items() if v is not None}
        for i, (pred, peak) in enumerate(zip(preds, peaks)):
            pred.keypoint_peaks = peak[None]
            if mode == 'heatmap':
                pred.keypoint_scores = peak[None].copy()
            elif input_scores is not None:
                # the contract's rule (engine/refined.py): a present joint
                # keeps the input's score, an absent one the refiner's peak
                pred.keypoint_scores = np.where(
                    fields['input_absent'][i], peak,
                    fields['input_keypoint_scores'][i])[None].astype(
                        np.float32)
            for name, value in fields.items():
                pred.set_field(value[i][None], name)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=p) for p in out.probs.detach()]
        return preds

    def predict_tensors(self,
                        feats: Tuple[Tensor],
                        input_pose: Tuple[Tensor, Tensor],
                        area: Optional[Tensor],
                        sigmas: Optional[Tensor],
                        test_cfg: dict,
                        flipped: Optional[Tuple[Tensor]] = None,
                        flip_indices: Optional[Sequence[int]] = None,
                        input_scores: Optional[Tensor] = None
                        ) -> HeadPrediction:
        """The refined pose as tensors (what :meth:`predict` decodes and the
        ONNX export traces).

        With ``flipped`` (the features of the mirrored image with the
        mirrored input pose), the flipped prediction is mirrored back, its
        mirror joints swapped (``flip_indices``), and averaged with the
        original (coordinates, probabilities, decision logits). Then the
        input point is kept where ``test_cfg['decision_thr']`` says so
        (with a decision) and where ``test_cfg['gate']`` says so
        (:meth:`_gate`).

        Args:
            feats (tuple[Tensor]): backbone stages of the image.
            input_pose (tuple): (B, K, 2) input-image coordinates and (B, K)
                visibility.
            area (Tensor, optional): (B, 1) person areas in heatmap pixels
                (:meth:`person_area`); needed by the decision and the gate.
            sigmas (Tensor, optional): (K, ) keypoint sigmas; likewise.
            test_cfg (dict): ``decision_thr``, ``gate``.
            flipped (tuple[Tensor], optional): backbone stages of the
                mirrored image.
            flip_indices (Sequence[int], optional): mirror joint of each.
            input_scores (Tensor, optional): (B, K) the input's joint
                scores, for a ``decision_model`` calibrated with them.
        """
        logits, probs, coords, decision, image_logits = self._outputs(
            feats, input_pose, area, sigmas)
        flip_coords = image_logits_f = None
        if flipped is not None:
            flip_indices = list(flip_indices)
            # the image flip x -> W_in - 1 - x, in heatmap units
            width = self.decoder.input_size[0]
            _, probs_f, coords_f, decision_f, image_logits_f = self._outputs(
                flipped, flip_input_pose(*input_pose, flip_indices, width),
                area, sigmas)
            flip_coords = unflip_coordinates(
                coords_f, flip_indices,
                (width - 1) / self.decoder.stride[0] + 1)
            coords = (coords + flip_coords) / 2
            probs = (probs + probs_f.flip(-1)[:, flip_indices]) / 2
            if decision is not None:
                decision = (decision + decision_f[:, flip_indices]) / 2
        peaks = probs.flatten(2).max(-1).values
        refine_probs = gated = cues = None
        kept = torch.zeros_like(peaks, dtype=torch.bool)
        model = self.decision_model(test_cfg)
        if decision is not None or model is not None:
            present = input_pose[1] > 0
            # the image's say, as probabilities (flip-averaged)
            image_probs = _softmax_maps(image_logits)
            if image_logits_f is not None:
                mirrored = _softmax_maps(image_logits_f).flip(-1)
                image_probs = (image_probs + mirrored[:, flip_indices]) / 2
            cues = decision_cues(probs, image_probs, coords,
                                 self._heatmap_units(input_pose[0]), present,
                                 sigmas, area, decision, flip_coords)
            if model is not None:
                decision = model.logits(cues, input_scores)
            coords, refine_probs, kept = self._decide(
                coords, decision, input_pose, test_cfg.get('decision_thr',
                                                           0.5))
        if test_cfg.get('gate'):
            coords, gated = self._gate(coords, input_pose, peaks, area,
                                       sigmas, **test_cfg['gate'])
            kept = kept | gated
        return HeadPrediction(coords, probs, peaks, refine_probs, gated,
                              kept, cues)

    @staticmethod
    def decision_model(test_cfg: dict) -> Optional[CueDecision]:
        """The :class:`CueDecision` of ``test_cfg['decision_model']``, or
        None (the learned decision's own probability)."""
        model = test_cfg.get('decision_model')
        if model is None or isinstance(model, CueDecision):
            return model
        return CueDecision(**model)

    def _decide(self, coords: Tensor, decision: Tensor, input_pose,
                thr: Optional[float]):
        """Keep the input point of the joints :func:`keeps_input` names.
        Returns the coordinates (B, K, 2), the probabilities (B, K), 1
        for absent input joints, and the kept joints (B, K)."""
        kpts, visible = input_pose
        present = visible > 0
        refine_probs = torch.where(present, decision.sigmoid(),
                                   torch.ones_like(decision))
        keep = keeps_input(refine_probs, present, thr)
        coords = torch.where(keep[..., None], self._heatmap_units(kpts),
                             coords)
        return coords, refine_probs, keep

    def _gate(self,
              coords: Tensor,
              input_pose,
              peaks: Tensor,
              area: Tensor,
              sigmas: Tensor,
              ks: float = 0.5,
              min_peak: Optional[float] = None):
        """Do-no-harm gating: keep the input joint unless the refiner is
        sure.

        A refined joint replaces its input joint if it stays near it
        (keypoint similarity to the input joint >= ``ks``: a jitter-sized
        correction), or if the refiner's softmax peak there is at least
        ``min_peak``; otherwise the input joint is kept. Absent input
        joints are never gated. Returns the coordinates (B, K, 2) and the
        gated joints (B, K).
        """
        kpts, visible = input_pose
        kpts = self._heatmap_units(kpts)
        similarity = keypoint_similarity(((coords - kpts)**2).sum(-1), area,
                                         sigmas)
        trusted = similarity >= ks
        if min_peak is not None:
            trusted |= peaks >= min_peak
        gated = (visible > 0) & ~trusted
        return torch.where(gated[..., None], kpts, coords), gated
