"""Where an estimator fails, and what refinement fixed or broke: the keypoint
error taxonomy of Ronchi & Perona (good, jitter, inversion, swap, miss).

Usage:
    python tools/analyze_errors.py --ann GT.json --input results.json
        [--refined refined.json] --out-dir DIR

Writes DIR/report.json (counts and fractions per type, overall and per
joint; with --refined the input -> refined transition matrix and each
person's OKS before and after) and PNG plots: error types before/after
(PoseFix fig. 8), per-joint breakdown, OKS before vs after (fig. 7).
Malformed results files are refused with the entry and field named, and
nothing is written.
"""
import argparse
import json
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from posefix_mm.apis import dump_json_atomic  # noqa: E402
from posefix_mm.datasets.coco_results import (  # noqa: E402
    ResultsFormatError, load_coco_results)
from posefix_mm.evaluation.error_analysis import analyze, compare  # noqa
from posefix_mm.utils.error_taxonomy import ERROR_TYPES  # noqa: E402

COLORS = ['#2ca02c', '#ffd700', '#ff7f0e', '#d62728', '#9467bd']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ann', required=True, help='COCO keypoint GT')
    parser.add_argument('--input', required=True, help='results to analyze')
    parser.add_argument('--refined', help='the refined results')
    parser.add_argument('--out-dir', required=True)
    return parser.parse_args(argv)


def load_gt(path: str) -> dict:
    try:
        with open(path, encoding='utf-8-sig') as f:
            gt = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: not UTF-8 JSON
        raise SystemExit(f'error: --ann {path}: not a UTF-8 JSON file ({e})')
    if not isinstance(gt, dict) or 'annotations' not in gt or \
            'categories' not in gt:
        raise SystemExit(f'error: --ann {path}: not COCO annotations '
                         '(needs "annotations" and "categories")')
    return gt


def person_category(gt: dict, path: str, num_keypoints: int) -> dict:
    """The ground truth's person category (id 1), with COCO's keypoints."""
    category = next((c for c in gt['categories']
                     if isinstance(c, dict) and c.get('id') == 1), None)
    if category is None or 'keypoints' not in category:
        raise SystemExit(f'error: --ann {path}: no person category (id 1 '
                         'with "keypoints")')
    if len(category['keypoints']) != num_keypoints:
        raise SystemExit(
            f'error: --ann {path}: the person category has '
            f'{len(category["keypoints"])} keypoints; the error taxonomy '
            f'uses COCO\'s {num_keypoints}')
    return category


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


def print_table(reports: dict) -> None:
    print(f'{"":10s}' + ''.join(f'{n:>10s}' for n in reports))
    for t in ERROR_TYPES:
        print(f'{t:10s}' + ''.join(f'{100 * r["fractions"][t]:9.1f}%'
                                   for r in reports.values()))
    print(f'{"matched":10s}' + ''.join(f'{r["matched"]:10d}'
                                       for r in reports.values()))


def main(argv=None):
    args = parse_args(argv)
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        raise SystemExit(f'error: --out-dir {args.out_dir} is a file')
    gt = load_gt(args.ann)
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/coco.py'))
    category = person_category(gt, args.ann, len(meta['sigmas']))
    num_kpt = len(category['keypoints'])
    try:
        lists = dict(input=load_coco_results(args.input, num_kpt))
        if args.refined:
            lists['refined'] = load_coco_results(args.refined, num_kpt)
    except (ResultsFormatError, OSError) as e:
        raise SystemExit(f'error: {e}')
    reports = {
        name: analyze(gt, results, meta['sigmas'], meta['flip_indices'],
                      category['keypoints'])
        for name, results in lists.items()
    }
    os.makedirs(args.out_dir, exist_ok=True)
    report = dict(reports)
    plot_types(reports, osp.join(args.out_dir, 'error_types.png'))
    plot_per_joint(reports,
                   osp.join(args.out_dir, 'error_types_per_joint.png'))
    if args.refined:
        report['comparison'] = compare(reports['input'], reports['refined'])
        plot_oks(report['comparison']['oks_pairs'],
                 osp.join(args.out_dir, 'oks_before_after.png'))
    dump_json_atomic(report, osp.join(args.out_dir, 'report.json'), indent=1)
    print_table(reports)
    print(f'report and plots -> {args.out_dir}')
    return report


if __name__ == '__main__':
    main()
