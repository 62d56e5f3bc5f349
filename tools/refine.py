"""Refine the COCO keypoint results of any method with a PoseFix model.

Usage:
    python tools/refine.py CONFIG CHECKPOINT --input results.json
        --img-dir DIR --out refined.json [--ann GT.json] [--batch-size N]
        [--device cpu|cuda] [--no-flip] [--vis-dir DIR] [--strict]
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
import json
import os
import os.path as osp
import sys
from collections import Counter

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

import cv2  # noqa: E402
import torch  # noqa: E402
from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import all_gather_object, get_dist_info  # noqa: E402
from mmengine.dist import init_dist  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from posefix_mm.apis import (dump_json_atomic, image_shards,  # noqa: E402
                             init_refiner, input_results, refine_pipeline,
                             refine_samples, to_coco_results)
from posefix_mm.datasets import (PoseFixResultsDataset,  # noqa: E402
                                 ResultsFormatError)
from posefix_mm.evaluation import (coco_keypoint_eval,  # noqa: E402
                                   format_ap_table)
from posefix_mm.utils import (CheckpointError,  # noqa: E402
                              merge_cfg_options)
from posefix_mm.evaluation.error_analysis import match, oks  # noqa: E402
from posefix_mm.visualization import person_panels  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
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
        help="output joint scores: the input's (default) or the refiner's "
        'heatmap peaks')
    parser.add_argument(
        '--instance-score',
        default='input',
        choices=['input', 'heatmap'],
        help="output instance scores: the input's (default, as the official "
        "code) or the input's times the refiner's mean heatmap peak")
    return parser.parse_args(argv)


def report_skips(skipped: Counter, strict: bool, missing=()) -> None:
    """One line per reason; missing image files named (the first 3)."""
    if not skipped:
        return
    lines = [f'  {count} x {reason}' for reason, count in skipped.items()]
    if missing:
        more = f' and {len(missing) - 3} more' if len(missing) > 3 else ''
        lines.append(f'    missing: {", ".join(missing[:3])}{more}')
    message = (f'{sum(skipped.values())} entries not refined:\n' +
               '\n'.join(lines))
    if strict:
        raise SystemExit(f'error (--strict): {message}')
    print(f'skipped {message}')


def _writable_folder(path: str, what: str) -> None:
    """``path`` is, or can be made, a folder this user can write to."""
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing) or '.'
    if not osp.isdir(existing):
        raise SystemExit(f'error: {what}: {existing} is a file, not a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SystemExit(f'error: {what}: folder {existing} is not writable')


def check_outputs(args) -> None:
    """Refuse output paths that cannot be written, before any work."""
    out = osp.abspath(args.out)
    if osp.isdir(out):
        raise SystemExit(f'error: --out: {args.out} is a folder')
    if osp.exists(out) and osp.samefile(out, args.input):
        raise SystemExit(f'error: --out {args.out} is the --input file; '
                         'refusing to overwrite the input')
    _writable_folder(osp.dirname(out), '--out')
    if args.vis_dir:
        _writable_folder(osp.abspath(args.vis_dir), '--vis-dir')


def _visualizer(dataset_meta):
    from mmpose.visualization import PoseLocalVisualizer
    visualizer = PoseLocalVisualizer(
        name=f'refine-pictures-{id(dataset_meta)}', radius=3, line_width=2)
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def write_pictures(outputs, vis_dir, dataset_meta, gt=None) -> int:
    """One picture per refined person (:func:`person_panels`): input |
    refined on a crop around them. With ground truth (``gt``, COCO
    annotations), the matched person is drawn too, the title says the
    person's OKS before -> after, and the files are named so that sorting
    by name lists the largest changes first (``0000_loss0.214_...``,
    ``0001_gain0.180_...``; persons matched to nobody come last)."""
    pictures = {}
    for o in outputs:
        stem = osp.splitext(osp.basename(o.info['img_path']))[0]
        pictures[o.info['id']] = dict(
            output=o, key=0., name=f'{stem}_{o.info["id"]}', person=None,
            title=f'{stem}: input | refined')
    if gt is not None:
        sigmas = dataset_meta['sigmas']
        # input_results lists the outputs by id
        ids = sorted(pictures)
        matched = match(gt, input_results(outputs), sigmas)
        for index, image_id, person, before in matched['pairs']:
            picture = pictures[ids[index]]
            target = matched['persons'][image_id][person]
            after = oks(picture['output'].keypoints, target, sigmas)
            change = after - before
            kind = 'gain' if change > 0 else 'loss' if change < 0 else 'same'
            picture.update(
                key=-abs(change),
                name=f'{kind}{abs(change):.3f}_{picture["name"]}',
                person=target,
                title=f'{picture["title"].split(":")[0]}: OKS {before:.3f} '
                f'-> {after:.3f} ({change:+.3f})')
        for picture in pictures.values():
            if picture['person'] is None:
                picture.update(
                    key=1., name=f'unmatched_{picture["name"]}',
                    title=picture['title'] + ' (no ground truth matched)')
    visualizer = _visualizer(dataset_meta)
    os.makedirs(vis_dir, exist_ok=True)
    ordered = sorted(pictures.values(), key=lambda p: (p['key'], p['name']))
    for rank, picture in enumerate(ordered):
        o, person = picture['output'], picture['person']
        image = cv2.imread(o.info['img_path'])[..., ::-1]
        drawn = person_panels(
            visualizer, image, o.info['input_keypoints'][0], o.keypoints,
            o.info['input_keypoints_visible'][0] > 0,
            None if person is None else person['keypoints'],
            None if person is None else person['visible'], picture['title'])
        cv2.imwrite(
            osp.join(vis_dir, f'{rank:04d}_{picture["name"]}.jpg'),
            drawn[..., ::-1])
    return len(ordered)


def check_backend(args) -> None:
    """Each backend with its own weights, before any work."""
    if args.backend == 'pytorch':
        if args.checkpoint is None:
            raise SystemExit('error: CHECKPOINT is required (or --backend '
                             'onnxruntime --onnx FILE)')
        if args.onnx:
            raise SystemExit('error: --onnx needs --backend onnxruntime')
        return
    if not args.onnx:
        raise SystemExit('error: --backend onnxruntime needs --onnx FILE '
                         '(tools/export_onnx.py writes it)')
    if args.checkpoint is not None:
        raise SystemExit('error: CHECKPOINT is not used with --backend '
                         'onnxruntime: the weights are in the --onnx file')
    model_options = [k for k in args.cfg_options or {}
                     if k.startswith('model.')]
    if model_options:
        raise SystemExit(
            f'error: --cfg-options {model_options} change the model, which '
            'the --onnx file holds as exported: export it again with them '
            '(tools/export_onnx.py --cfg-options ...)')


def build_refiner(cfg, args):
    """The torch model, or the ONNX refiner with the config's keypoints."""
    if args.backend == 'pytorch':
        return init_refiner(cfg, args.checkpoint, args.device,
                            not args.no_flip)
    from mmpose.apis.inference import dataset_meta_from_config
    from posefix_mm.apis.onnx_refiner import OnnxRefiner
    model = OnnxRefiner(args.onnx,
                        dataset_meta_from_config(cfg, dataset_mode='train'),
                        args.device)
    sizes = [tuple(t['input_size']) for t in refine_pipeline(cfg)
             if 'input_size' in t]
    if tuple(model.settings['input_size']) not in sizes:
        raise ValueError(
            f'--onnx: {args.onnx} takes {model.settings["input_size"]} '
            f'crops, the config\'s pipeline makes {sizes}: exported from '
            'another config')
    flip = model.settings['flip_test']
    if flip and args.no_flip:
        raise ValueError(f'--no-flip: {args.onnx} holds the flip test; '
                         'export it with --no-flip for a graph without')
    print(f'onnxruntime: {args.onnx} (flip test {"on" if flip else "off"}, '
          'as exported)')
    return model


def main(argv=None):
    args = parse_args(argv)
    if args.launcher != 'none':
        init_dist(args.launcher)
        if args.device == 'cuda':
            args.device = f'cuda:{torch.cuda.current_device()}'
    if args.batch_size < 1:
        raise SystemExit(f'error: --batch-size must be >= 1, got '
                         f'{args.batch_size}')
    if args.workers is None:
        args.workers = 0 if args.device == 'cpu' else 4
    init_default_scope('mmpose')
    check_backend(args)
    for path, what in ((args.config, 'CONFIG'), (args.input, '--input'),
                       (args.ann, '--ann'),
                       (args.checkpoint, 'CHECKPOINT'), (args.onnx,
                                                         '--onnx')):
        if path is not None and not osp.isfile(path):
            raise SystemExit(f'error: {what}: no file {path}')
    if not osp.isdir(args.img_dir):
        raise SystemExit(f'error: --img-dir: no folder {args.img_dir}')
    check_outputs(args)
    try:
        dataset = PoseFixResultsDataset.from_files(
            args.input,
            args.img_dir,
            ann_file=args.ann or '',
            box_source=args.box_source,
            absent_score_thr=args.absent_score_thr)
    except ResultsFormatError as e:
        raise SystemExit(f'error: {e}')
    if len(dataset) == 0 and dataset.missing_images and \
            sum(dataset.skipped.values()) == dataset.skipped[
                'image file missing']:
        print(f'error: --img-dir {args.img_dir} holds none of the images of '
              f'{args.input} (no file {dataset.missing_images[0]}; an '
              'image_id names {image_id:012d}.jpg, or with --ann its '
              'file_name); nothing written', file=sys.stderr)
        raise SystemExit(2)
    if get_dist_info()[0] == 0:
        report_skips(dataset.skipped, args.strict, dataset.missing_images)
    elif args.strict and dataset.skipped:
        raise SystemExit(1)  # rank 0 says why
    if len(dataset) == 0:
        raise SystemExit('error: no entry can be refined; nothing written')

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    try:
        model = build_refiner(cfg, args)
    except (CheckpointError, ValueError, ImportError, RuntimeError) as e:
        raise SystemExit(f'error: {e}')
    pipeline = Compose(refine_pipeline(cfg))
    rank, world_size = get_dist_info()
    # each process the entries of its share of the images (an image is
    # decoded by one process); rank 0 merges and writes
    share = range(len(dataset)) if world_size == 1 else image_shards(
        [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))],
        world_size)[rank]
    outputs, unreadable = refine_samples(
        model, (dataset.get_data_info(i) for i in share),
        pipeline, args.batch_size, progress=rank == 0,
        num_workers=args.workers)
    if world_size > 1:
        outputs = sorted((o for part in all_gather_object(outputs)
                          for o in part), key=lambda o: o.info['id'])
        unreadable = sum(all_gather_object(unreadable), Counter())
        if rank != 0:
            return None
    report_skips(unreadable, args.strict)
    if not outputs:
        raise SystemExit('error: no entry could be refined; nothing written')
    refined = to_coco_results(outputs, args.keypoint_score,
                              args.instance_score)
    dump_json_atomic(refined, args.out)
    total = len(dataset) + sum(dataset.skipped.values())
    print(f'refined {len(refined)} of {total} entries -> {args.out}')
    gt = None
    if args.ann:
        with open(args.ann) as f:
            gt = json.load(f)
    if args.vis_dir:
        n = write_pictures(outputs, args.vis_dir, model.dataset_meta, gt)
        print(f'{n} pictures, a person each (input | refined'
              f'{", largest OKS changes first" if gt else ""}) -> '
              f'{args.vis_dir}')
    if args.ann:
        from xtcocotools.coco import COCO
        coco = COCO(args.ann)
        sigmas = model.dataset_meta['sigmas']
        table = dict(
            input=coco_keypoint_eval(coco, input_results(outputs), sigmas),
            refined=coco_keypoint_eval(coco, refined, sigmas))
        print(f'COCO keypoint AP/AR on {args.ann} ({len(refined)} poses):')
        print(format_ap_table(table))
        return table
    return None


if __name__ == '__main__':
    sys.exit(main() and 0)
