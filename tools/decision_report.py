"""Measure and calibrate PoseFix's per-joint decision on your data.

Prints, for a results file (or synthetic inputs made from the ground truth)
and the ground truth: the input AP, the AP of the refined poses with every
joint refined, the AP of the decision at each threshold (0.0: every joint
refined; 1.0: every present joint keeps its input, only absent ones are
placed), the AP of the oracle per-joint choice (whichever of input and
refined joint is nearer the matched ground truth), the share of the
oracle's headroom over the input that the decision captures, and how well
the refine probability tells a good move from a bad one: its ROC AUC over
the present joints that move and its 5th-95th percentile spread. Then the
threshold that does not lower the AP on these data, as a ``--cfg-options``
line.

``--save FILE.py`` calibrates (``posefix_mm.apis.calibrate``): cross-
validated by images (``--folds``), the config's own decision at a fitted
threshold and a decision refitted to this estimator (its cues, its joint
scores, a bias per joint) are kept only if no held-out fold loses; the
held-out AP per fold is printed, and one line says so when refinement does
not help this estimator (present joints then keep their input). FILE.py is
CONFIG, its bases merged in, with the calibrated decision: the config of
``tools/refine.py``, ``RefineInferencer(refiner=FILE.py)`` and
``PoseRefiner(refiner=FILE.py)``, from any folder.

Usage:
    python tools/decision_report.py CONFIG CHECKPOINT --ann GT.json
        --img-dir DIR (--input results.json | --synthetic default|good|strong)
        [--seed 0] [--absent-rate R] [--images START:END]
        [--thresholds 0.3 0.5 0.7] [--out report.json] [--save FILE.py]
        [--folds 5] [--device cpu]

``--synthetic`` makes the inputs with ``SynthesizePoseErrors(seed=...)``:
``default`` with the official error tables, ``good`` with every joint a
"good" one (a precise estimator: the case where refining can only lose),
``strong`` at a strong top-down model's error level
(``posefix_mm.apis.synthetic_inputs``). Settings are chosen this way on
held-out *training* images (e.g. the lspet images the demo config leaves
out: ``--images 9000:10000``), never on the evaluation split.
"""
import argparse
import os.path as osp
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from posefix_mm.apis.calibrate import CANDIDATES, calibrate  # noqa: E402
from posefix_mm.apis.decision_report import (  # noqa: E402
    DEFAULT_THRESHOLDS, DecisionReportError, check_thresholds,
    refine_with_truth, report_lines, report_of)
from posefix_mm.apis.synthetic_inputs import SYNTHETIC_KINDS  # noqa: E402
from posefix_mm.evaluation.calibration import calibrated_config  # noqa: E402
from posefix_mm.utils import dump_json_atomic, write_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--ann', required=True, help='COCO annotations')
    parser.add_argument('--img-dir', required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--input', help='COCO keypoint results to refine')
    source.add_argument('--synthetic', choices=SYNTHETIC_KINDS)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--absent-rate', type=float, default=0.0)
    parser.add_argument(
        '--images',
        help='START:END, a slice of the annotated images (in id order): '
        'the test is their persons only')
    parser.add_argument(
        '--thresholds', type=float, nargs='+',
        default=list(DEFAULT_THRESHOLDS))
    parser.add_argument(
        '--folds', type=int, default=5,
        help='calibration (--save): cross-validation folds, by images '
        '(default 5)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON')
    parser.add_argument(
        '--save', help='calibrate and write CONFIG with the calibrated '
        'decision as this config file (.py)')
    return parser.parse_args(argv)


def check_args(args) -> None:
    """Refuse, before any work, what cannot give a report or a config."""
    for path, what in ((args.config, 'CONFIG'), (args.checkpoint,
                                                 'CHECKPOINT'),
                       (args.ann, '--ann'), (args.input, '--input')):
        if path is not None and not osp.isfile(path):
            raise DecisionReportError(f'{what}: no file {path}')
    if not osp.isdir(args.img_dir):
        raise DecisionReportError(f'--img-dir: no folder {args.img_dir}')
    check_thresholds(args.thresholds)
    if args.save:
        if not args.save.endswith('.py'):
            raise DecisionReportError(
                f'--save {args.save}: a config file ends in .py')
        if osp.exists(args.save) and osp.samefile(args.save, args.config):
            raise DecisionReportError(
                f'--save {args.save} is CONFIG itself: write the '
                'calibrated config beside it, under another name')
        if args.folds < 2:
            raise DecisionReportError(
                f'--folds {args.folds}: calibration holds out one fold of '
                'images at a time: at least 2')


def print_calibration(calibration) -> None:
    """The held-out AP per fold, and what was chosen."""
    print(f'calibration, {len(calibration.folds)} folds by images '
          '(each fitted on the others): held-out AP')
    names = ('input', 'refined', *CANDIDATES, 'oracle')
    print('  fold images ' + ' '.join(f'{n:>10s}' for n in names))
    for i, fold in enumerate(calibration.folds):
        print(f'  {i:4d} {fold["images"]:6d} ' +
              ' '.join(f'{fold[n]:10.3f}' for n in names))
    for name in CANDIDATES:
        gains = calibration.held_out_gains(name)
        print(f'  {name}: held-out gain {min(gains):+.3f} to '
              f'{max(gains):+.3f} (mean {sum(gains) / len(gains):+.3f})')
    if not calibration.helps:
        print('refinement does not help this estimator: no setting gains '
              'on every held-out fold, so present joints keep their input '
              'point (decision_thr 1.0); the refiner still places the '
              'joints the input lacks')
    else:
        what = 'its own decision' if calibration.decision_model is None \
            else 'a decision refitted to this estimator'
        print(f'calibrated: {calibration.chosen} ({what}), decision_thr '
              f'{calibration.decision_thr}')


def main(argv=None):
    args = parse_args(argv)
    try:
        check_args(args)
        data = refine_with_truth(args.config, args.checkpoint, args.ann,
                                 args.img_dir, args.input, args.synthetic,
                                 args.seed, args.absent_rate, args.images,
                                 args.batch_size, args.device)
        report = report_of(data, args.thresholds)
        print('\n'.join(report_lines(report)))
        calibration = None
        if args.save:
            calibration = calibrate(data, args.folds, args.thresholds)
    except ValueError as e:  # DecisionReportError and the others
        print(f'error: {e}', file=sys.stderr)
        raise SystemExit(2)
    if calibration is not None:
        print_calibration(calibration)
        report['calibration'] = dict(
            folds=calibration.folds,
            chosen=calibration.chosen,
            decision_thr=calibration.decision_thr,
            decision_model=None if calibration.decision_model is None else
            calibration.decision_model.to_dict())
    if args.out:
        dump_json_atomic(report, args.out)
    if calibration is not None:
        write_atomic(
            args.save,
            calibrated_config(args.config, calibration.decision_thr,
                              args.input or f'synthetic {args.synthetic}',
                              calibration.decision_model))
        print(f'wrote {args.save}: use it as the refiner config')
    return report


if __name__ == '__main__':
    sys.exit(main() and 0)
