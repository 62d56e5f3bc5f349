"""The learned per-joint decision of PoseFix: keep the input joint or take
the refined one."""
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from posefix_mm.utils.keypoint_similarity import keypoint_similarity
from .decision_cues import ks_move, log_prob_at, mass_near, sample_maps


def crop_person_area(heatmap_size: Sequence[int],
                     bbox_padding: Union[float, Tensor]):
    """The person box area in heatmap pixels: the crop's over the square of
    ``bbox_padding`` (how much larger the crop is than the box, packed by
    ``PackPoseFixInputs``; a float, or (B, ) for a batch)."""
    w, h = heatmap_size
    return w * h / bbox_padding**2


def samples_sigmas(batch_data_samples: list, like: Tensor) -> Tensor:
    """(K, ) the keypoint sigmas of the samples' metainfo, as ``like``."""
    meta = batch_data_samples[0].metainfo
    if 'sigmas' not in meta:
        raise KeyError('PoseFixHead: the per-joint decision and the '
                       'gate need the keypoint sigmas in the metainfo '
                       '(PackPoseFixInputs packs them)')
    return like.new_tensor(meta['sigmas'])


def samples_bbox_padding(batch_data_samples: list,
                         like: Tensor) -> Tensor:
    """(B, ) each sample's ``bbox_padding`` (crop / box), as ``like``."""
    paddings = [d.metainfo.get('bbox_padding') for d in batch_data_samples]
    if None in paddings:
        raise KeyError('PoseFixHead: the per-joint decision and the '
                       'gate need bbox_padding in the metainfo '
                       '(PackPoseFixInputs packs it)')
    return like.new_tensor(paddings)


def decision_targets(refined: Tensor, inputs: Tensor, gt: Tensor,
                     area: float, sigmas: Tensor):
    """Labels and weights of the decision: is the refined joint nearer the
    ground truth than the input joint, and by how much keypoint similarity.

    Args:
        refined, inputs, gt (Tensor): (B, K, 2), one unit (heatmap pixels).
        area (float | Tensor): person area in those units (a float, or
            (B, 1) for a batch).
        sigmas (Tensor): (K, ).

    Returns:
        tuple: labels (B, K) 1 where KS(refined) > KS(input), and weights
        (B, K) |KS(refined) - KS(input)|: the OKS a wrong decision costs.
    """
    ks_refined = keypoint_similarity(((refined - gt)**2).sum(-1), area,
                                     sigmas)
    ks_input = keypoint_similarity(((inputs - gt)**2).sum(-1), area, sigmas)
    return (ks_refined > ks_input).float(), (ks_refined - ks_input).abs()


def _cues(logits: Tensor, refined: Tensor, inputs: Tensor, sigmas: Tensor,
          area: Tensor) -> Tensor:
    """(B, K, 6) what the refiner's heatmap says of the input and the
    refined point: the log-probability at each, the peak, the probability
    mass within KS 0.5 of each, and the move log(1 - ln KS(refined,
    input)). ``area``: (B, 1) person areas in heatmap pixels."""
    log_probs = logits.flatten(2).log_softmax(-1).view_as(logits)
    probs = log_probs.exp()
    return torch.stack([
        log_prob_at(log_probs, inputs),
        log_prob_at(log_probs, refined),
        log_probs.flatten(2).max(-1).values,
        mass_near(probs, inputs, sigmas, area),
        mass_near(probs, refined, sigmas, area),
        ks_move(refined, inputs, sigmas, area),
    ], -1)


@MODELS.register_module()
class JointDecision(nn.Module):
    """Predicts, per joint, the logit of "the refined joint is nearer the
    ground truth than the input joint".

    Cues, all taken from the refiner without changing it (inputs are
    detached): the head's last features (reduced by a 1x1 convolution)
    sampled at the input joint and at the refined joint; the refiner's
    log-probability at each of the two points and its peak; the probability
    mass within KS 0.5 of each point; and the move, -ln KS(refined, input).
    A small MLP, shared by all joints, with a learned embedding per joint,
    maps them to a logit.

    Trained with a cost-weighted binary cross-entropy
    (:func:`decision_targets`): each joint counts by the keypoint
    similarity that the wrong choice would lose, so the decision learns
    what matters to OKS; joints without ground truth or without an input
    point take no part.

    Args:
        in_channels (int): channels of the head's last features.
        num_keypoints (int): K.
        feat_channels (int): channels kept of the features. 16.
        hidden (int): MLP width. 64.
        embed (int): per-joint embedding size. 8.
        loss_weight (float): weight of the decision loss. 1.
    """

    num_cues = 6

    def __init__(self,
                 in_channels: int,
                 num_keypoints: int,
                 feat_channels: int = 16,
                 hidden: int = 64,
                 embed: int = 8,
                 loss_weight: float = 1.0):
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, feat_channels, 1)
        self.joint_embed = nn.Embedding(num_keypoints, embed)
        self.mlp = nn.Sequential(
            nn.Linear(2 * feat_channels + self.num_cues + embed, hidden),
            nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        self.loss_weight = loss_weight

    def forward(self, feats: Tensor, logits: Tensor, refined: Tensor,
                inputs: Tensor, sigmas: Tensor, area: Tensor) -> Tensor:
        """Decision logits (B, K).

        Args:
            feats (Tensor): (B, C, H, W) the head's last features.
            logits (Tensor): (B, K, H, W) heatmap logits.
            refined (Tensor): (B, K, 2) soft-argmax, heatmap pixels.
            inputs (Tensor): (B, K, 2) input joints, heatmap pixels.
            sigmas (Tensor): (K, ) keypoint sigmas.
            area (Tensor): (B, 1) person areas, heatmap pixels.
        """
        feats, logits, refined = (t.detach() for t in (feats, logits,
                                                       refined))
        reduced = self.reduce(feats)
        joint = self.joint_embed.weight[None].expand(feats.shape[0], -1, -1)
        x = torch.cat([
            sample_maps(reduced, inputs),
            sample_maps(reduced, refined),
            _cues(logits, refined, inputs, sigmas, area), joint
        ], -1)
        return self.mlp(x)[..., 0]

    def loss(self, decision_logits: Tensor, refined: Tensor, inputs: Tensor,
             input_visible: Tensor, gt: Tensor, gt_weights: Tensor,
             area: Tensor, sigmas: Tensor) -> Tensor:
        """Cost-weighted BCE of the decision logits (B, K); see
        :func:`decision_targets`. All coordinates in heatmap pixels."""
        labels, cost = decision_targets(refined.detach(), inputs, gt, area,
                                        sigmas)
        cost = cost * gt_weights * (input_visible > 0)
        bce = F.binary_cross_entropy_with_logits(
            decision_logits, labels, reduction='none')
        return (bce * cost).sum() / cost.sum().clamp(min=1e-6) * \
            self.loss_weight
