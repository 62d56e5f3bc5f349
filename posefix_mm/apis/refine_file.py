"""Refine a COCO results file of any method (``tools/refine.py``): the
checks before any work, the refinement, possibly in several processes, the
output file, the pictures and the AP table. Returns what it did and raises
:class:`RefineFileError`; the tool prints and exits."""
import json
import os
import os.path as osp
from collections import Counter
from typing import Callable, NamedTuple, Optional

import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_dist_info, init_dist
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

from posefix_mm.datasets import PoseFixResultsDataset, ResultsFormatError
from posefix_mm.engine import (image_shards, refine_pipeline, refine_samples,
                               replace_entries, skip_message, to_coco_results)
from posefix_mm.evaluation import cocoeval_keypoints
from posefix_mm.utils import (CheckpointError, dump_json_atomic,
                              merge_cfg_options)
from posefix_mm.visualization import VIS_HEIGHT, write_pictures
from .inference import init_refiner


class RefineFileError(ValueError):
    """A results file that cannot be refined as asked: the message names
    the argument or file; nothing is written. ``exit_code``: what the tool
    exits with (2: the images of the file are not in the image folder)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class RefinedFile(NamedTuple):
    """What :func:`refine_results_file` wrote: ``written`` entries (the
    input's, in its order) of which ``refined`` were refined; ``pictures``
    files in the picture folder (None: none asked); with annotations, the
    AP table (``input``/``refined`` -> stats) over ``scored`` entries."""
    out: str
    refined: int
    written: int
    pictures: Optional[int] = None
    table: Optional[dict] = None
    scored: int = 0


def _writable_folder(path: str, what: str) -> None:
    """``path`` is, or can be made, a folder this user can write to."""
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing) or '.'
    if not osp.isdir(existing):
        raise RefineFileError(f'{what}: {existing} is a file, not a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RefineFileError(f'{what}: folder {existing} is not writable')


def check_outputs(out: str, input: str, vis_dir: Optional[str]) -> None:
    """Refuse output paths that cannot be written, before any work."""
    path = osp.abspath(out)
    if osp.isdir(path):
        raise RefineFileError(f'--out: {out} is a folder')
    if osp.exists(path) and osp.samefile(path, input):
        raise RefineFileError(f'--out {out} is the --input file; refusing '
                              'to overwrite the input')
    _writable_folder(osp.dirname(path), '--out')
    if vis_dir:
        _writable_folder(osp.abspath(vis_dir), '--vis-dir')


def check_backend(backend: str, checkpoint: Optional[str],
                  onnx: Optional[str], cfg_options: Optional[dict]) -> None:
    """Each backend with its own weights, before any work."""
    if backend == 'pytorch':
        if checkpoint is None:
            raise RefineFileError('CHECKPOINT is required (or --backend '
                                  'onnxruntime --onnx FILE)')
        if onnx:
            raise RefineFileError('--onnx needs --backend onnxruntime')
        return
    if not onnx:
        raise RefineFileError('--backend onnxruntime needs --onnx FILE '
                              '(tools/export_onnx.py writes it)')
    if checkpoint is not None:
        raise RefineFileError('CHECKPOINT is not used with --backend '
                              'onnxruntime: the weights are in the --onnx '
                              'file')
    model_options = [k for k in cfg_options or {} if k.startswith('model.')]
    if model_options:
        raise RefineFileError(
            f'--cfg-options {model_options} change the model, which the '
            '--onnx file holds as exported: export it again with them '
            '(tools/export_onnx.py --cfg-options ...)')


def build_refiner(cfg, backend: str, checkpoint: Optional[str],
                  onnx: Optional[str], device: str, flip: bool,
                  log: Callable[[str], None]):
    """The torch model, or the ONNX refiner with the config's keypoints."""
    if backend == 'pytorch':
        return init_refiner(cfg, checkpoint, device, flip)
    from mmpose.apis.inference import dataset_meta_from_config
    from posefix_mm.deploy import OnnxRefiner
    model = OnnxRefiner(onnx,
                        dataset_meta_from_config(cfg, dataset_mode='train'),
                        device)
    sizes = [tuple(t['input_size']) for t in refine_pipeline(cfg)
             if 'input_size' in t]
    if tuple(model.settings['input_size']) not in sizes:
        raise ValueError(
            f'--onnx: {onnx} takes {model.settings["input_size"]} crops, '
            f"the config's pipeline makes {sizes}: exported from another "
            'config')
    if model.settings['flip_test'] and not flip:
        raise ValueError(f'--no-flip: {onnx} holds the flip test; export it '
                         'with --no-flip for a graph without')
    log(f'onnxruntime: {onnx} (flip test '
        f'{"on" if model.settings["flip_test"] else "off"}, as exported)')
    return model


def _log(message: str) -> None:
    print_log(message, logger='current')


def refine_results_file(config: str,
                        input: str,
                        img_dir: str,
                        out: str,
                        checkpoint: Optional[str] = None,
                        ann: Optional[str] = None,
                        backend: str = 'pytorch',
                        onnx: Optional[str] = None,
                        device: str = 'cpu',
                        flip: bool = True,
                        batch_size: int = 32,
                        workers: Optional[int] = None,
                        launcher: str = 'none',
                        vis_dir: Optional[str] = None,
                        vis_size: int = VIS_HEIGHT,
                        strict: bool = False,
                        box_source: str = 'auto',
                        absent_score_thr: Optional[float] = None,
                        keypoint_score: str = 'input',
                        instance_score: str = 'input',
                        cfg_options: Optional[dict] = None,
                        log: Callable[[str], None] = _log
                        ) -> Optional[RefinedFile]:
    """Refine the COCO results file ``input`` (images in ``img_dir``) into
    ``out``, entry for entry (``tools/refine.py``'s options, same names).

    Everything is checked before any work; skipped entries are counted and
    said through ``log`` (with ``strict``, an error). ``out`` is written
    whole or not at all. Returns None in processes other than the first of
    a distributed run (``launcher``), which writes.

    Raises:
        RefineFileError: a bad argument or file, or nothing to refine.
    """
    if launcher != 'none':
        init_dist(launcher)
        if device == 'cuda':
            device = f'cuda:{torch.cuda.current_device()}'
    if vis_size < 64:
        raise RefineFileError(
            f'--vis-size must be >= 64 pixels, got {vis_size}')
    if batch_size < 1:
        raise RefineFileError(f'--batch-size must be >= 1, got {batch_size}')
    if workers is None:
        workers = 0 if device == 'cpu' else 4
    init_default_scope('mmpose')
    check_backend(backend, checkpoint, onnx, cfg_options)
    for path, what in ((config, 'CONFIG'), (input, '--input'),
                       (ann, '--ann'), (checkpoint, 'CHECKPOINT'),
                       (onnx, '--onnx')):
        if path is not None and not osp.isfile(path):
            raise RefineFileError(f'{what}: no file {path}')
    if not osp.isdir(img_dir):
        raise RefineFileError(f'--img-dir: no folder {img_dir}')
    check_outputs(out, input, vis_dir)
    try:
        dataset = PoseFixResultsDataset.from_files(
            input, img_dir, ann_file=ann or '', box_source=box_source,
            absent_score_thr=absent_score_thr)
    except ResultsFormatError as e:
        raise RefineFileError(str(e)) from e
    if len(dataset) == 0 and dataset.missing_images and \
            sum(dataset.skipped.values()) == dataset.skipped[
                'image file missing']:
        raise RefineFileError(
            f'--img-dir {img_dir} holds none of the images of {input} (no '
            f'file {dataset.missing_images[0]}; an image_id names '
            '{image_id:012d}.jpg, or with --ann its file_name); nothing '
            'written', exit_code=2)
    _report_skips(log, strict, skip_message(dataset.skipped,
                                            dataset.missing_images))
    if len(dataset) == 0:
        raise RefineFileError('no entry can be refined; nothing written')

    cfg = Config.fromfile(config)
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)
    try:
        model = build_refiner(cfg, backend, checkpoint, onnx, device, flip,
                              log)
    except (CheckpointError, ValueError, ImportError, RuntimeError) as e:
        raise RefineFileError(str(e)) from e
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
        model, samples, pipeline, batch_size, progress=rank == 0,
        num_workers=workers, skipped_samples=skipped_samples)
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
    _report_skips(log, strict,
                  skip_message(unreadable, unreadable=unreadable_files))
    if not outputs:
        raise RefineFileError('no entry could be refined; nothing written')
    refined = to_coco_results(outputs, keypoint_score, instance_score)
    written = replace_entries(
        dataset.entries,
        {o.info['id']: r for o, r in zip(
            sorted(outputs, key=lambda o: o.info['id']), refined)}, reasons)
    dump_json_atomic(written, out)
    gt = None
    if ann:
        with open(ann) as f:
            gt = json.load(f)
    pictures = None
    if vis_dir:
        pictures = write_pictures(outputs, vis_dir, model.dataset_meta, gt,
                                  vis_size)
    result = RefinedFile(out, len(refined), len(written), pictures)
    if not ann:
        return result
    from xtcocotools.coco import COCO
    coco = COCO(ann)
    sigmas = model.dataset_meta['sigmas']
    # the same entries on both sides: every person entry of an annotated
    # image, refined or not
    scored = [
        i for i, e in enumerate(dataset.entries)
        if e['image_id'] in coco.imgs and e['category_id'] == 1
    ]
    table = dict(
        input=cocoeval_keypoints(coco, [dataset.entries[i] for i in scored],
                                 sigmas),
        refined=cocoeval_keypoints(coco, [written[i] for i in scored],
                                   sigmas))
    return result._replace(table=table, scored=len(scored))


def _report_skips(log: Callable[[str], None], strict: bool,
                  message: str) -> None:
    """Skipped entries said (in the first process), or with ``strict`` the
    error."""
    if message and strict:
        raise RefineFileError(f'--strict: {message}')
    if message and get_dist_info()[0] == 0:
        log(f'skipped {message}')
