"""Refine the COCO keypoint results of any method with a PoseFix model.

Usage:
    python tools/refine.py CONFIG CHECKPOINT --input results.json
        --img-dir DIR --out refined.json [--ann GT.json] [--batch-size N]
        [--device cpu|cuda] [--no-flip] [--vis-dir DIR] [--vis-size PX]
        [--strict]
        [--backend pytorch|onnxruntime] [--onnx refiner.onnx]
        [--box-source auto|keypoints|bbox|union] [--absent-score-thr T]
        [--keypoint-score input|heatmap] [--instance-score input|heatmap]
        [--workers 4] [--launcher none|pytorch|slurm|mpi]
        [--cfg-options KEY=VALUE ...]
    python -m torch.distributed.run --nproc_per_node N tools/refine.py ...
        --launcher pytorch
    python tools/refine.py CONFIG --backend onnxruntime --onnx refiner.onnx
        --input results.json --img-dir DIR --out refined.json ...

With ``--backend onnxruntime`` the network is the ONNX file that
tools/export_onnx.py wrote (flip test, decision and gate as exported); the
config still gives the test pipeline and the keypoints.

The input file is checked before any work; malformed files are refused with
the entry and field named, and nothing is written. Entries that cannot be
refined (score <= 0, not a person, unknown image_id with --ann, missing or
unreadable image, a bbox that is not finite or has no area, no box at all,
non-finite refined keypoints) are skipped and reported (--strict: an error
instead). Output paths are checked before any work; --out may not be the
--input file. A joint at (0, 0) (or scored at or below --absent-score-thr)
is absent: it takes no part in the box and the refiner estimates it from
the image.
The output is written atomically: complete, or not there. With a launcher
every process refines the entries of its share of the images (each image
is decoded by one process) and rank 0 writes the merged output, in the
input's order (the same file as one process writes); a process that fails
stops the run and nothing is written.
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('config', help='PoseFix config')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='PoseFix checkpoint (local); not with --backend onnxruntime')
    parser.add_argument('--input', required=True, help='COCO results JSON')
    parser.add_argument(
        '--img-dir', required=True,
        help='image folder: an entry\'s image is the file named by its '
        'image_id, {image_id:012d}.jpg (COCO\'s names), or with --ann the '
        'file_name the annotations give it')
    parser.add_argument('--out', required=True, help='refined results JSON')
    parser.add_argument(
        '--ann', help='COCO annotations: image names, and AP before/after')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--no-flip', action='store_true', help='no flip test')
    parser.add_argument(
        '--backend',
        default='pytorch',
        choices=['pytorch', 'onnxruntime'],
        help="the network: the torch model from CHECKPOINT (default), or "
        "onnxruntime running --onnx")
    parser.add_argument(
        '--onnx', help='the refiner exported by tools/export_onnx.py')
    parser.add_argument(
        '--workers',
        type=int,
        help='DataLoader workers reading and cropping images while the '
        'network runs (0: in the main process). Default: 4 with --device '
        'cuda; 0 on CPU, where the network already takes every core '
        '(docs/benchmarks.md)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help="several processes (MMEngine's launchers, as tools/test.py): "
        'each refines its share of the images, rank 0 writes the merged '
        'output')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--vis-dir',
        help='write a picture per person, input | refined (with --ann: the '
        'ground truth, the OKS change, largest changes first)')
    parser.add_argument(
        '--vis-size', type=int, default=480,
        help='height in pixels of a person in the pictures (default 480)')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='entries that cannot be refined are errors, not skips')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, e.g. model.test_cfg.gate=None')
    parser.add_argument(
        '--box-source',
        default='auto',
        choices=['auto', 'keypoints', 'bbox', 'union'],
        help="the box each pose is refined in: 'auto' (default) the entry's "
        "bbox [x, y, w, h] when it has one, else the extent of its present "
        "joints x1.2; 'keypoints' always the latter (official code); 'bbox' "
        "only the given box; 'union' both")
    parser.add_argument(
        '--absent-score-thr',
        type=float,
        help='input joints scored at or below this are absent (estimated '
        'by the refiner from the image); default: only joints at (0, 0)')
    parser.add_argument(
        '--keypoint-score',
        default='input',
        choices=['input', 'heatmap'],
        help="output joint scores: 'input' (default) the input's, and the "
        "refiner's heatmap peak for absent input joints; 'heatmap' the "
        "refiner's peak for every joint (README: What a refined pose "
        'holds)')
    parser.add_argument(
        '--instance-score',
        default='input',
        choices=['input', 'heatmap'],
        help="output instance scores: the input's (default, as the official "
        "code) or the input's times the refiner's mean heatmap peak")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # MMPose and posefix_mm only now: --help stays quick
    from posefix_mm.utils.compat import apply as apply_compat
    apply_compat()
    from posefix_mm.apis import RefineFileError, refine_results_file
    from posefix_mm.engine import NOT_REFINED
    from posefix_mm.evaluation import format_ap_table
    try:
        result = refine_results_file(
            args.config, args.input, args.img_dir, args.out,
            checkpoint=args.checkpoint, ann=args.ann, backend=args.backend,
            onnx=args.onnx, device=args.device, flip=not args.no_flip,
            batch_size=args.batch_size, workers=args.workers,
            launcher=args.launcher, vis_dir=args.vis_dir,
            vis_size=args.vis_size, strict=args.strict,
            box_source=args.box_source,
            absent_score_thr=args.absent_score_thr,
            keypoint_score=args.keypoint_score,
            instance_score=args.instance_score,
            cfg_options=args.cfg_options, log=print)
    except RefineFileError as e:
        if e.exit_code == 2:
            print(f'error: {e}', file=sys.stderr)
            raise SystemExit(2)
        raise SystemExit(f'error: {e}')
    if result is None:  # not the first process of a distributed run
        return None
    unrefined = result.written - result.refined
    print(f'refined {result.refined} of {result.written} entries -> '
          f'{result.out}' +
          (f' (the other {unrefined} as they were, with "{NOT_REFINED}": '
           'why)' if unrefined else ''))
    if result.pictures is not None:
        print(f'{result.pictures} pictures, a person each (input | refined'
              f'{", largest OKS changes first" if args.ann else ""}) -> '
              f'{args.vis_dir}')
    if result.table is not None:
        print(f'COCO keypoint AP/AR on {args.ann} ({result.scored} poses, '
              f'{result.refined} of them refined):')
        print(format_ap_table(result.table))
    return result.table


if __name__ == '__main__':
    sys.exit(main() and 0)
