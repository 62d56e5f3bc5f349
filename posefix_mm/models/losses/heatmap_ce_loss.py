"""Cross-entropy of softmaxed heatmaps against a (bilinear) one-hot target:
the L_H of PoseFix (MMPose has no softmax cross-entropy heatmap loss)."""
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class SoftmaxHeatmapCELoss(nn.Module):
    """L_H = -sum_p target(p) log softmax(logits)(p), per joint, averaged
    over all joints of the batch, each weighted by its target weight.

    Args:
        use_target_weight (bool): weight each joint. Default True.
        loss_weight (float): Default 1.
    """

    def __init__(self, use_target_weight: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, target: Tensor,
                target_weight: Tensor = None) -> Tensor:
        """
        Args:
            logits (Tensor): (B, K, H, W) raw heatmap outputs.
            target (Tensor): (B, K, H, W), each map sums to 1 (or is zero).
            target_weight (Tensor): (B, K).
        """
        log_probs = torch.log_softmax(logits.flatten(2), -1)
        per_joint = -(target.flatten(2) * log_probs).sum(-1)
        if self.use_target_weight:
            per_joint = per_joint * target_weight
        return per_joint.mean() * self.loss_weight
