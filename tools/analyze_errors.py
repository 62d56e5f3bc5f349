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

from posefix_mm.datasets.coco_results import (ResultsFormatError,
                                              load_coco_results)
from posefix_mm.datasets.metainfo import mmpose_dataset_info
from posefix_mm.evaluation.error_analysis import analyze, compare
from posefix_mm.utils import dump_json_atomic
from posefix_mm.utils.error_taxonomy import ERROR_TYPES
from posefix_mm.visualization.error_plots import (plot_oks, plot_per_joint,
                                                  plot_types)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
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
    meta = parse_pose_metainfo(mmpose_dataset_info('coco.py'))
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
