"""How well PoseFix's per-joint decision chooses between input and refined,
and the threshold that never loses on your data (calibration).

Prints, for a results file (or synthetic inputs made from the ground truth)
and the ground truth: the input AP, the AP of the refined poses with every
joint refined, the AP of the learned decision at each threshold (0.0: every
joint refined; 1.0: every present joint keeps its input, only absent ones
are placed), the AP of the
oracle per-joint choice (whichever of input and refined joint is nearer the
matched ground truth) and the share of the oracle's headroom over the input
that the decision captures. Then the chosen threshold: the best gain among
those that do not lower the AP (``posefix_mm.evaluation.calibration``), as a
``--cfg-options`` line; ``--save FILE.py`` writes it as a config (CONFIG
with that threshold) for ``tools/refine.py``, ``RefineInferencer(refiner=
FILE.py)`` and ``PoseRefiner(refiner=FILE.py)``.

Usage:
    python tools/decision_report.py CONFIG CHECKPOINT --ann GT.json
        --img-dir DIR (--input results.json | --synthetic good|default)
        [--seed 0] [--absent-rate R] [--images START:END]
        [--thresholds 0.3 0.5 0.7] [--out report.json] [--save FILE.py]
        [--device cpu]

``--synthetic`` makes the inputs with ``SynthesizePoseErrors(seed=...)``:
``default`` with the official error tables, ``good`` with every joint a
"good" one (a precise estimator: the case where refining can only lose).
Settings are chosen this way on held-out *training* images (e.g. the lspet
images the demo config leaves out: ``--images 9000:10000``), never on the
evaluation split.
"""
import argparse
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from posefix_mm.apis.decision_report import (  # noqa: E402
    DEFAULT_THRESHOLDS, decision_report, print_report)
from posefix_mm.evaluation.calibration import calibrated_config  # noqa: E402
from posefix_mm.utils import dump_json_atomic, write_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--ann', required=True, help='COCO annotations')
    parser.add_argument('--img-dir', required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--input', help='COCO keypoint results to refine')
    source.add_argument('--synthetic', choices=['default', 'good'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--absent-rate', type=float, default=0.0)
    parser.add_argument(
        '--images',
        help='START:END, a slice of the annotated images (in id order): '
        'the test is their persons only')
    parser.add_argument(
        '--thresholds', type=float, nargs='+',
        default=list(DEFAULT_THRESHOLDS))
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON')
    parser.add_argument(
        '--save', help='write CONFIG with the chosen threshold as this '
        'config file (.py)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.save and not args.save.endswith('.py'):
        raise SystemExit(f'error: --save {args.save}: a config file ends in '
                         '.py')
    try:
        report = decision_report(
            args.config, args.checkpoint, args.ann, args.img_dir, args.input,
            args.synthetic, args.seed, args.absent_rate, args.images,
            args.thresholds, args.batch_size, args.device)
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    print_report(report)
    if args.out:
        dump_json_atomic(report, args.out)
    if args.save:
        write_atomic(
            args.save,
            calibrated_config(args.config, report['chosen'],
                              args.input or f'synthetic {args.synthetic}'))
        print(f'wrote {args.save}: use it as the refiner config')
    return report


if __name__ == '__main__':
    sys.exit(main() and 0)
