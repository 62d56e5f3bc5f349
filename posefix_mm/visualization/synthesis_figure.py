"""A figure of the error synthesis on real training persons (PoseFix
figures 3 and 4): ground truth | synthesized input pose, each input joint
coloured by its error type."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmcv  # noqa: E402
import numpy as np  # noqa: E402

from posefix_mm.utils.error_taxonomy import ERROR_TYPES  # noqa: E402

TYPE_COLORS = dict(
    good='#2ca02c',
    jitter='#ffd700',
    inversion='#ff7f0e',
    swap='#d62728',
    miss='#9467bd')
NO_GT_COLOR = '#7f7f7f'


def draw_pose(ax, kpts, visible, skeleton, colors, line_color):
    for a, b in skeleton:
        if visible[a] and visible[b]:
            ax.plot(*kpts[[a, b]].T, color=line_color, lw=1.2, alpha=0.8)
    ax.scatter(*kpts[visible].T, c=np.asarray(colors)[visible], s=22,
               edgecolors='black', linewidths=0.5, zorder=3)


def crop_limits(ax, *point_sets, bbox, pad=0.25):
    x1, y1, x2, y2 = bbox
    pts = np.concatenate([p.reshape(-1, 2) for p in point_sets] +
                         [np.array([[x1, y1], [x2, y2]])])
    lo, hi = pts.min(0), pts.max(0)
    margin = (hi - lo) * pad
    ax.set_xlim(lo[0] - margin[0], hi[0] + margin[0])
    ax.set_ylim(hi[1] + margin[1], lo[1] - margin[1])
    ax.axis('off')


def pick_persons(dataset, num):
    """Persons with others around (swaps need them), then most labelled."""
    keys = [((dataset[i]['other_keypoints_visible'] > 0).any(),
             (dataset[i]['keypoints_visible'] > 0).sum())
            for i in range(len(dataset))]
    return sorted(range(len(dataset)), key=lambda i: keys[i])[::-1][:num]


def most_varied_draw(synth, info, draws):
    """Of several draws, the one showing the most distinct error types."""
    outs = [synth(dict(info)) for _ in range(draws)]
    return max(outs, key=lambda o: len(set(o['synth_error_types'][0])))


def synthesis_figure(dataset, synth, num: int = 8, draws: int = 10):
    """Real training persons of ``dataset`` (a ``PoseFixCocoDataset``
    without pipeline): ground truth | synthesized input pose (``synth``, a
    ``SynthesizePoseErrors``), each input joint coloured by its error type
    and an arrow from the ground truth to it; per person, of ``draws``
    draws the one with most error types. Returns the matplotlib figure."""
    skeleton = dataset.metainfo['skeleton_links']
    persons = pick_persons(dataset, num)
    cols = 4
    rows = int(np.ceil(len(persons) / (cols // 2)))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.6 * rows))
    axes = np.atleast_2d(axes).reshape(-1, 2)
    for (ax_gt, ax_in), idx in zip(axes, persons):
        info = most_varied_draw(synth, dataset[int(idx)], draws)
        img = mmcv.imread(info['img_path'], channel_order='rgb')
        gt, vis = info['keypoints'][0], info['keypoints_visible'][0] > 0
        inp = info['input_keypoints'][0]
        types = info['synth_error_types'][0]
        colors = [
            TYPE_COLORS[ERROR_TYPES[t]] if t >= 0 else NO_GT_COLOR
            for t in types
        ]
        for ax in (ax_gt, ax_in):
            ax.imshow(img)
        draw_pose(ax_gt, gt, vis, skeleton, ['#1f77b4'] * len(gt), 'white')
        ax_gt.set_title(f'GT (ann {info["id"]})', fontsize=8)
        in_vis = info['input_keypoints_visible'][0] > 0
        draw_pose(ax_in, inp, in_vis, skeleton, colors, '#dddddd')
        for j in np.flatnonzero(vis & (types > 0)):
            ax_in.annotate('', inp[j], gt[j],
                           arrowprops=dict(arrowstyle='->', lw=0.8,
                                           color=colors[j]))
        ax_in.set_title('synthesized input', fontsize=8)
        crop_limits(ax_gt, gt[vis], bbox=info['bbox'][0])
        crop_limits(ax_in, gt[vis], inp[in_vis], bbox=info['bbox'][0])
    for ax in axes[len(persons):].ravel():
        ax.axis('off')
    handles = [
        plt.Line2D([], [], marker='o', ls='', color=c, label=n)
        for n, c in list(TYPE_COLORS.items()) + [('no GT', NO_GT_COLOR)]
    ]
    fig.legend(handles=handles, loc='lower center', ncol=6, fontsize=9)
    fig.suptitle(
        'SynthesizePoseErrors on coco_mini train: arrows go from the ground '
        f'truth to the synthesized joint\n(per person, of {draws} '
        'draws the one with most error types)',
        fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig
