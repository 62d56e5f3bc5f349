"""Fit the error tables of SynthesizePoseErrors to an estimator.

Usage:
    python tools/fit_error_tables.py --results RESULTS.json --ann GT.json
        --out tables.json [--results R2.json --ann GT2.json ...]
        [--absent-score-thr T] [--no-pool-mirrors]

RESULTS: the estimator's COCO keypoint results on a *labelled split that it
will not be evaluated on* (e.g. COCO train, or a held-out part of it); GT:
that split's annotations. Pairs of --results / --ann add up. The output
holds ``error_tables`` (train with ``SynthesizePoseErrors(error_tables=
'tables.json')``), the counts behind every entry, the share of absent
joints and the matching absent_rate; the printed table compares the fitted
values with the default (COCO challenge winners') tables.
"""
import argparse
import json
import os.path as osp
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

import numpy as np  # noqa: E402
from mmpose.datasets.datasets.utils import parse_pose_metainfo  # noqa: E402

from posefix_mm.apis import dump_json_atomic  # noqa: E402
from posefix_mm.datasets import (ResultsFormatError,  # noqa: E402
                                 load_coco_results)
from posefix_mm.datasets.transforms import COCO_ERROR_TABLES  # noqa: E402
from posefix_mm.datasets.transforms.error_tables import row_at  # noqa
from posefix_mm.evaluation import ErrorTableFitter  # noqa: E402

KEYS = ('jitter', 'miss', 'inversion', 'swap', 'swap_crowded')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--results', action='append', required=True,
                        help="an estimator's COCO keypoint results")
    parser.add_argument('--ann', action='append', required=True,
                        help='COCO annotations of the same images')
    parser.add_argument('--out', required=True, help='tables JSON to write')
    parser.add_argument(
        '--absent-score-thr', type=float,
        help='joints scored at or below this are absent (counted apart); '
        'default: only joints at (0, 0)')
    parser.add_argument(
        '--no-pool-mirrors', action='store_true',
        help='fit left and right joints apart (half the data per entry)')
    return parser.parse_args(argv)


def summary(fit: dict) -> str:
    """Fitted vs default, averaged over the joints of each row, and the
    fewest joints behind an entry of the row."""
    lines = [f'{"table":<14}{"max_nv":>7}{"default":>9}{"fitted":>9}'
             f'{"min n":>8}']
    for key in KEYS:
        for (max_nv, fitted), counts in zip(fit['error_tables'][key],
                                            fit['counts'][key]):
            default = row_at(COCO_ERROR_TABLES[key],
                              len(fitted) if max_nv is None else max_nv)
            lines.append(
                f'{key:<14}{str(max_nv):>7}{np.mean(default):>9.3f}'
                f'{np.mean(fitted):>9.3f}{min(counts["n"]):>8}')
    lines.append(f'absent share {np.mean(fit["absent_share"]):.3f} -> '
                 f'absent_rate {fit["absent_rate"]}; swap_crowded entries '
                 f'clipped: {fit["swap_crowded_clipped"]}')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if len(args.results) != len(args.ann):
        raise SystemExit('error: give one --ann per --results')
    for path in args.results + args.ann:
        if not osp.isfile(path):
            raise SystemExit(f'error: no file {path}')
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/'
                                    'coco.py'))
    fitter = ErrorTableFitter(
        meta['sigmas'], meta['flip_indices'],
        pool_mirrors=not args.no_pool_mirrors,
        absent_score_thr=args.absent_score_thr)
    for results_path, ann_path in zip(args.results, args.ann):
        try:
            results = load_coco_results(results_path, meta['num_keypoints'])
        except ResultsFormatError as e:
            raise SystemExit(f'error: {e}')
        with open(ann_path) as f:
            gt = json.load(f)
        known = {img['id'] for img in gt.get('images', [])}
        foreign = sum(r['image_id'] not in known for r in results)
        if foreign:
            print(f'{results_path}: {foreign} of {len(results)} results are '
                  f'on images {ann_path} does not have (not counted)')
        fitter.add(gt, [r for r in results if r['image_id'] in known])
    try:
        fit = fitter.tables()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    fit['sources'] = [
        dict(results=r, ann=a) for r, a in zip(args.results, args.ann)
    ]
    dump_json_atomic(fit, args.out, indent=1)
    print(f'{fit["matched"]} results matched to a person '
          f'({fit["unmatched"]} to nobody)')
    print(summary(fit))
    print(f'-> {args.out}')
    return fit


if __name__ == '__main__':
    sys.exit(main() and 0)
