"""Plots of the keypoint error taxonomy (matplotlib, no display): error
types before and after refinement (PoseFix fig. 8), per joint, and each
person's OKS before and after (fig. 7). The reports are
:func:`~posefix_mm.evaluation.error_analysis.analyze`'s."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from posefix_mm.utils.error_taxonomy import ERROR_TYPES  # noqa: E402

COLORS = ['#2ca02c', '#ffd700', '#ff7f0e', '#d62728', '#9467bd']


def plot_types(reports: dict, path: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(reports)
    x = np.arange(len(ERROR_TYPES))
    for i, (name, report) in enumerate(reports.items()):
        values = [100 * report['fractions'][t] for t in ERROR_TYPES]
        bars = ax.bar(x + i * width, values, width, label=name)
        ax.bar_label(bars, fmt='%.1f', fontsize=7)
    ax.set_xticks(x + width * (len(reports) - 1) / 2, ERROR_TYPES)
    ax.set_ylabel('% of labelled keypoints')
    ax.set_title('Keypoint error types (matched persons)')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_joint(reports: dict, path: str) -> None:
    fig, axes = plt.subplots(
        len(reports), 1, figsize=(9, 3 * len(reports)), squeeze=False)
    for ax, (name, report) in zip(axes[:, 0], reports.items()):
        joints = list(report['per_joint'])
        bottom = np.zeros(len(joints))
        for t, color in zip(ERROR_TYPES, COLORS):
            values = np.array([
                100 * report['per_joint'][j]['fractions'][t] for j in joints
            ])
            ax.bar(joints, values, bottom=bottom, color=color, label=t)
            bottom += values
        ax.set_ylabel('%')
        ax.set_title(f'{name}: error types per joint')
        ax.tick_params(axis='x', labelrotation=60, labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=5, fontsize=8, loc='upper center')
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_oks(pairs: dict, path: str) -> None:
    before = np.array([p[0] for p in pairs.values()])
    after = np.array([p[1] for p in pairs.values()])
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    better = after > before
    ax.scatter(before[better], after[better], s=12, c='#2ca02c',
               label=f'improved ({better.sum()})')
    ax.scatter(before[~better], after[~better], s=12, c='#d62728',
               label=f'not improved ({(~better).sum()})')
    ax.plot([0, 1], [0, 1], 'k--', lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel('OKS of the input')
    ax.set_ylabel('OKS after refinement')
    ax.set_title('Per-person OKS')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
