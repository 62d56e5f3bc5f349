from .heatmap_ce_loss import SoftmaxHeatmapCELoss

__all__ = ['SoftmaxHeatmapCELoss']
