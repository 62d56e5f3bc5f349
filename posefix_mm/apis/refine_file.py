"""Refine a COCO results file of any method: the work behind
``tools/refine.py`` (the checks before any work, the refinement, possibly
in several processes, the output, the pictures and the AP table)."""
import json
import os
import os.path as osp
import sys
from collections import Counter
from typing import Optional

import cv2
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_dist_info, init_dist
from mmengine.registry import init_default_scope

from posefix_mm.datasets import PoseFixResultsDataset, ResultsFormatError
from posefix_mm.engine import (NOT_REFINED, image_shards, input_results,
                               refine_pipeline, refine_samples,
                               replace_entries, skip_message, to_coco_results)
from posefix_mm.evaluation import cocoeval_keypoints, format_ap_table
from posefix_mm.evaluation.error_analysis import match, oks
from posefix_mm.utils import (CheckpointError, dump_json_atomic,
                              merge_cfg_options)
from posefix_mm.visualization import person_panels
from .inference import init_refiner


def report_skips(skipped: Counter, strict: bool, missing=(),
                 unreadable=()) -> None:
    """:func:`~posefix_mm.engine.skip_message` printed, or with
    ``strict`` the error."""
    message = skip_message(skipped, missing, unreadable)
    if message and strict:
        raise SystemExit(f'error (--strict): {message}')
    if message:
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


#: the default height of a person's crop in the pictures (pixels)
VIS_HEIGHT = 480


def _visualizer(dataset_meta, height: int = VIS_HEIGHT):
    """MMPose's visualizer, its joints and limbs as thick as a picture of
    ``height`` pixels needs to show them."""
    from mmpose.visualization import PoseLocalVisualizer
    visualizer = PoseLocalVisualizer(
        name=f'refine-pictures-{id(dataset_meta)}-{height}',
        radius=max(3, height // 80), line_width=max(2, height // 160))
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def write_pictures(outputs, vis_dir, dataset_meta, gt=None,
                   height: int = VIS_HEIGHT) -> int:
    """One picture per refined person (:func:`person_panels`): input |
    refined on a crop of ``height`` pixels around them. With ground truth
    (``gt``, COCO annotations), the matched person is drawn too, the title
    says the person's OKS before -> after, and the files are named so that
    sorting by name lists the largest changes first (``0000_loss0.214_...``,
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
    visualizer = _visualizer(dataset_meta, height)
    os.makedirs(vis_dir, exist_ok=True)
    ordered = sorted(pictures.values(), key=lambda p: (p['key'], p['name']))
    for rank, picture in enumerate(ordered):
        o, person = picture['output'], picture['person']
        image = cv2.imread(o.info['img_path'])[..., ::-1]
        drawn = person_panels(
            visualizer, image, o.info['input_keypoints'][0], o.keypoints,
            o.info['input_keypoints_visible'][0] > 0,
            None if person is None else person['keypoints'],
            None if person is None else person['visible'], picture['title'],
            height)
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


def run(args) -> Optional[dict]:
    """Refine ``args.input`` as ``tools/refine.py`` does (its arguments);
    returns the AP table with ``args.ann``."""
    if args.launcher != 'none':
        init_dist(args.launcher)
        if args.device == 'cuda':
            args.device = f'cuda:{torch.cuda.current_device()}'
    if args.vis_size < 64:
        raise SystemExit(f'error: --vis-size must be >= 64 pixels, got '
                         f'{args.vis_size}')
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
    samples = [dataset.get_data_info(i) for i in share]
    skipped_samples = []
    outputs, unreadable = refine_samples(
        model, samples, pipeline, args.batch_size, progress=rank == 0,
        num_workers=args.workers, skipped_samples=skipped_samples)
    # why each entry that is not refined was not, by entry index
    reasons = dict(dataset.skipped_entries)
    reasons.update(
        (samples[p]['id'], reason) for p, reason in skipped_samples)
    unreadable_files = list(dict.fromkeys(
        samples[p]['img_path'] for p, reason in skipped_samples
        if reason == 'unreadable image'))
    if world_size > 1:
        outputs = sorted((o for part in all_gather_object(outputs)
                          for o in part), key=lambda o: o.info['id'])
        unreadable = sum(all_gather_object(unreadable), Counter())
        for part in all_gather_object(reasons):
            reasons.update(part)
        unreadable_files = list(dict.fromkeys(
            f for part in all_gather_object(unreadable_files)
            for f in part))
        if rank != 0:
            return None
    report_skips(unreadable, args.strict, unreadable=unreadable_files)
    if not outputs:
        raise SystemExit('error: no entry could be refined; nothing written')
    refined = to_coco_results(outputs, args.keypoint_score,
                              args.instance_score)
    written = replace_entries(
        dataset.entries,
        {o.info['id']: r for o, r in zip(
            sorted(outputs, key=lambda o: o.info['id']), refined)}, reasons)
    dump_json_atomic(written, args.out)
    unrefined = len(written) - len(refined)
    print(f'refined {len(refined)} of {len(written)} entries -> {args.out}' +
          (f' (the other {unrefined} as they were, with "{NOT_REFINED}": '
           'why)' if unrefined else ''))
    gt = None
    if args.ann:
        with open(args.ann) as f:
            gt = json.load(f)
    if args.vis_dir:
        n = write_pictures(outputs, args.vis_dir, model.dataset_meta, gt,
                           args.vis_size)
        print(f'{n} pictures, a person each (input | refined'
              f'{", largest OKS changes first" if gt else ""}) -> '
              f'{args.vis_dir}')
    if args.ann:
        from xtcocotools.coco import COCO
        coco = COCO(args.ann)
        sigmas = model.dataset_meta['sigmas']
        # the same entries on both sides: every person entry of an
        # annotated image, refined or not
        scored = [
            i for i, e in enumerate(dataset.entries)
            if e['image_id'] in coco.imgs and e['category_id'] == 1
        ]
        table = dict(
            input=cocoeval_keypoints(coco,
                                     [dataset.entries[i] for i in scored],
                                     sigmas),
            refined=cocoeval_keypoints(coco, [written[i] for i in scored],
                                       sigmas))
        print(f'COCO keypoint AP/AR on {args.ann} ({len(scored)} poses, '
              f'{len(refined)} of them refined):')
        print(format_ap_table(table))
        return table
    return None
