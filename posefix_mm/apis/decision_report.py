"""How well PoseFix's per-joint decision chooses between input and refined
joints, and the threshold that never loses on given data: the work behind
``tools/decision_report.py``."""
import copy
import os.path as osp
import tempfile
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS
from xtcocotools.coco import COCO

from posefix_mm.datasets import PoseFixResultsDataset
from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.datasets.transforms import (COCO_ERROR_TABLES,
                                            SynthesizePoseErrors)
from posefix_mm.engine import refine_pipeline, refine_samples
from posefix_mm.evaluation import coco_keypoint_eval, match
from posefix_mm.evaluation.calibration import choose_decision_thr
from posefix_mm.models.heads.posefix_head import keeps_input
from posefix_mm.utils import dump_json_atomic
from .inference import init_refiner

#: the thresholds reported by default: 0.0 refines every joint, 1.0 keeps
#: every present joint
DEFAULT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
                      1.0)


def good_only_tables() -> dict:
    """Error tables under which every joint is synthesized "good"."""
    tables = copy.deepcopy(COCO_ERROR_TABLES)
    for key in ('jitter', 'miss', 'inversion', 'swap', 'swap_crowded'):
        for row in tables[key]:
            row[1] = [0.0] * len(row[1])
    return tables


def synthetic_results(ann: str, img_dir: str, kind: str, seed: int,
                      absent_rate: float, img_ids=None) -> list:
    """COCO results whose poses are synthesized from the ground truth of
    every person (of the images ``img_ids``, default all); an absent joint
    is written (0, 0, 0), as estimators do."""
    dataset = DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root='',
            ann_file=ann,
            data_prefix=dict(img=img_dir),
            pipeline=[]))
    synth = SynthesizePoseErrors(
        error_tables=good_only_tables() if kind == 'good' else None,
        absent_rate=absent_rate,
        seed=seed)
    wanted = None if img_ids is None else set(img_ids)
    results = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if wanted is not None and info['img_id'] not in wanted:
            continue
        info = synth(info)
        present = info['input_keypoints_visible'][0]
        results.append(
            coco_entry(info['img_id'],
                       info['input_keypoints'][0] * present[:, None],
                       present))
    return results


def decide(outputs, thr):
    """Keypoints (N, K, 2) as the head decides at ``thr`` (its rule,
    :func:`keeps_input`, on the refine probabilities of outputs refined
    with ``decision_thr=None``): a kept joint is the input point."""
    return [
        np.where(
            keeps_input(o.refine_probs, o.present, thr)[:, None],
            o.input_keypoints, o.keypoints) for o in outputs
    ]


def oracle(outputs, gt: dict, inputs: list, sigmas):
    """Keypoints (N, K, 2): per joint, whichever of input and refined is
    nearer the ground-truth person the input was matched to (COCO's greedy
    OKS matching); unmatched entries keep the refined pose."""
    chosen = [o.keypoints for o in outputs]
    matched = match(gt, inputs, sigmas)
    for index, image_id, person, _ in matched['pairs']:
        o = outputs[index]
        gt_kpts = matched['persons'][image_id][person]['keypoints']
        inp = o.input_keypoints
        input_nearer = ((inp - gt_kpts)**2).sum(-1) < (
            (o.keypoints - gt_kpts)**2).sum(-1)
        chosen[index] = np.where((input_nearer & o.present)[:, None], inp,
                                 o.keypoints)
    return chosen


def as_results(outputs, keypoints) -> list:
    """COCO entries of ``keypoints`` (one (K, 2) per output), each with its
    input's instance score: the entries the AP of each choice is
    measured on."""
    return [
        coco_entry(o.info['img_id'], k, score=o.info['bbox_score'][0])
        for o, k in zip(outputs, keypoints)
    ]


def decision_report(config: str,
                    checkpoint: str,
                    ann: str,
                    img_dir: str,
                    input_file: Optional[str] = None,
                    synthetic: Optional[str] = None,
                    seed: int = 0,
                    absent_rate: float = 0.0,
                    images: Optional[str] = None,
                    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
                    batch_size: int = 32,
                    device: str = 'cpu') -> dict:
    """The figures ``tools/decision_report.py`` prints (its arguments):
    ``input``, ``refined`` (every joint), ``oracle`` and ``decision``
    ({threshold: AP}) keypoint AP, the ``chosen`` threshold
    (:func:`choose_decision_thr`) and the number of poses ``n``."""
    if (input_file is None) == (synthetic is None):
        raise ValueError('one of input_file and synthetic')
    init_default_scope('mmpose')
    coco = COCO(ann)
    img_ids = None
    if images:
        start, end = (int(v) for v in images.split(':'))
        img_ids = sorted(coco.getImgIds())[start:end]
    with tempfile.TemporaryDirectory() as tmp:
        if synthetic:
            input_file = osp.join(tmp, 'synthetic.json')
            dump_json_atomic(
                synthetic_results(ann, img_dir, synthetic, seed,
                                  absent_rate, img_ids), input_file)
        dataset = PoseFixResultsDataset.from_files(
            input_file, img_dir, ann_file=ann)
    model = init_refiner(config, checkpoint, device,
                         test_cfg=dict(decision_thr=None))
    if model.head.decision is None:
        raise ValueError('the model has no per-joint decision')
    outputs, _ = refine_samples(
        model, (dataset.get_data_info(i) for i in range(len(dataset))),
        Compose(refine_pipeline(model.cfg)), batch_size, total=len(dataset))
    outputs.sort(key=lambda o: o.info['id'])
    gt = dict(annotations=list(coco.anns.values()))
    sigmas = model.dataset_meta['sigmas']
    inputs = as_results(outputs, [o.input_keypoints for o in outputs])

    def ap_of(results):
        return coco_keypoint_eval(coco, results, sigmas, img_ids)['AP']

    def ap(keypoints):
        return ap_of(as_results(outputs, keypoints))

    report = dict(
        input=ap_of(inputs),
        refined=ap([o.keypoints for o in outputs]),
        oracle=ap(oracle(outputs, gt, inputs, sigmas)),
        decision={thr: ap(decide(outputs, thr)) for thr in thresholds})
    report['chosen'] = choose_decision_thr([report['input']],
                                           [report['decision']])
    report['n'] = len(outputs)
    return report


def print_report(report: dict) -> None:
    """The report as lines of text."""
    n = report['n']
    headroom = report['oracle'] - report['input']
    print(f'{n} poses: input AP {report["input"]:.3f}, all refined '
          f'{report["refined"]:.3f}, oracle per-joint choice '
          f'{report["oracle"]:.3f} (headroom {headroom:+.3f})')
    for thr, value in report['decision'].items():
        share = (value - report['input']) / headroom if headroom else 0.
        print(f'  decision thr {thr:.2f}: AP {value:.3f} '
              f'({value - report["input"]:+.3f}; {share:.0%} of headroom)')
    print(f'chosen (best gain that does not lower the AP): --cfg-options '
          f'model.test_cfg.decision_thr={report["chosen"]}')
