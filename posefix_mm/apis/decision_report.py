"""How well PoseFix's per-joint decision chooses between input and refined
joints, and the threshold that never loses on given data: the work behind
``tools/decision_report.py``."""
import os.path as osp
import tempfile
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from xtcocotools.coco import COCO

from posefix_mm.datasets import PoseFixResultsDataset
from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.engine import refine_pipeline, refine_samples
from posefix_mm.evaluation import cocoeval_keypoints, match
from posefix_mm.evaluation.calibration import (choose_decision_thr,
                                               joint_table, roc_auc, spread)
from posefix_mm.models.heads.refine_decoding import keeps_input
from posefix_mm.utils import dump_json_atomic
from .inference import init_refiner
from .synthetic_inputs import synthetic_results

#: the thresholds reported by default: 0.0 refines every joint, 1.0 keeps
#: every present joint
DEFAULT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
                      1.0)


def decide(outputs, thr, probs=None):
    """Keypoints (N, K, 2) as the head decides at ``thr`` (its rule,
    :func:`keeps_input`, on the refine probabilities of outputs refined
    with ``decision_thr=None``, or on ``probs``, one (K, ) per output): a
    kept joint is the input point."""
    probs = [o.refine_probs for o in outputs] if probs is None else probs
    return [
        np.where(
            keeps_input(p, o.present, thr)[:, None], o.input_keypoints,
            o.keypoints) for p, o in zip(probs, outputs)
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


class DecisionReportError(ValueError):
    """Inputs a decision report or a calibration cannot be made of (the
    message names the file and what is wrong)."""


def check_thresholds(thresholds: Sequence[float]) -> None:
    """Thresholds are probabilities: finite, in [0, 1]."""
    bad = [t for t in thresholds if not 0 <= t <= 1]  # nan fails too
    if bad or not len(thresholds):
        raise DecisionReportError(
            f'--thresholds: {bad or "none given"}: each threshold is a '
            'refine probability in [0, 1]')


def _check_truth(coco: COCO, ann: str) -> None:
    persons = [
        a for a in coco.anns.values()
        if not a.get('iscrowd', 0) and a.get('num_keypoints', 0) > 0
    ]
    if not persons:
        raise DecisionReportError(
            f'{ann}: no person with keypoints (non-crowd, num_keypoints > '
            '0): nothing to measure the decision against')


def _check_dataset(dataset, input_file: str, ann: str) -> None:
    unknown = dataset.skipped.get('image_id not in the annotations', 0)
    if unknown:
        first = next(i for i, reason in dataset.skipped_entries
                     if reason == 'image_id not in the annotations')
        raise DecisionReportError(
            f'{input_file}: {unknown} entries name images that {ann} does '
            f'not have (the first: entry {first}): the results and the '
            'annotations must be of the same images')
    if not len(dataset):
        raise DecisionReportError(
            f'{input_file}: no entry to refine (skipped: '
            f'{dict(dataset.skipped) or "none"}; is --img-dir right?)')


class RefinedWithTruth(NamedTuple):
    """Refined poses (every joint refined, with the refine probabilities
    and cues of the model's decision) next to their ground truth: what a
    decision report and a calibration are made of."""
    outputs: list
    coco: COCO
    img_ids: Optional[list]
    sigmas: np.ndarray

    def ap(self, keypoints) -> float:
        """The AP of the poses at ``keypoints`` (one (K, 2) per output),
        each with its input's instance score."""
        return cocoeval_keypoints(self.coco, as_results(self.outputs,
                                                        keypoints),
                                  self.sigmas, self.img_ids)['AP']

    def subset(self, images) -> 'RefinedWithTruth':
        """The poses of the images ``images`` (ids) only."""
        images = set(images)
        return RefinedWithTruth(
            [o for o in self.outputs if o.info['img_id'] in images],
            self.coco, sorted(images), self.sigmas)

    @property
    def gt(self) -> dict:
        return dict(annotations=list(self.coco.anns.values()))

    def table(self) -> dict:
        """Per joint: cues, labels, costs (:func:`joint_table`)."""
        return joint_table(self.outputs, self.gt, self.sigmas)


def refine_with_truth(config: str,
                      checkpoint: str,
                      ann: str,
                      img_dir: str,
                      input_file: Optional[str] = None,
                      synthetic: Optional[str] = None,
                      seed: int = 0,
                      absent_rate: float = 0.0,
                      images: Optional[str] = None,
                      batch_size: int = 32,
                      device: str = 'cpu',
                      model=None) -> RefinedWithTruth:
    """Refine a results file (or synthetic inputs made from the ground
    truth: ``synthetic``, one of :data:`SYNTHETIC_KINDS`) with every joint
    refined, keeping the decision's probabilities and cues. ``images``:
    ``'START:END'``, a slice of the annotated images in id order. ``model``:
    an already built refiner (``init_refiner(..., test_cfg=dict(
    decision_thr=None))``) instead of ``config`` and ``checkpoint``."""
    if (input_file is None) == (synthetic is None):
        raise ValueError('one of input_file and synthetic')
    init_default_scope('mmpose')
    coco = COCO(ann)
    _check_truth(coco, ann)
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
        _check_dataset(dataset, synthetic or input_file, ann)
    if model is None:
        model = init_refiner(config, checkpoint, device,
                             test_cfg=dict(decision_thr=None))
    if model.head.decision is None and \
            model.head.decision_model(model.test_cfg) is None:
        raise DecisionReportError('the model has no per-joint decision')
    outputs, _ = refine_samples(
        model, (dataset.get_data_info(i) for i in range(len(dataset))),
        Compose(refine_pipeline(model.cfg)), batch_size, total=len(dataset))
    outputs.sort(key=lambda o: o.info['id'])
    return RefinedWithTruth(outputs, coco, img_ids,
                            np.asarray(model.dataset_meta['sigmas']))


def discrimination(table: dict, probs=None) -> dict:
    """How well refine probabilities (default the table's own) tell a good
    move from a bad one, over the present joints that move: ``auc`` (ROC
    AUC for "the refined joint is nearer the ground truth"), ``spread``
    (their 5th and 95th percentiles), ``moves`` (how many) and
    ``refined_better`` (the share of them whose refined joint is nearer)."""
    probs = table['refine_probs'] if probs is None else np.asarray(probs)
    moved = table['moved']
    labels = table['label'][moved]
    return dict(
        auc=roc_auc(probs[moved], labels),
        spread=spread(probs[moved]),
        moves=int(moved.sum()),
        refined_better=float(labels.mean()) if len(labels) else float('nan'))


def report_of(data: RefinedWithTruth,
              thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> dict:
    """What ``tools/decision_report.py`` prints of refined poses
    (:func:`refine_with_truth`): ``input``, ``refined`` (every joint),
    ``oracle`` and ``decision`` ({threshold: AP}) keypoint AP, the
    ``chosen`` threshold (:func:`choose_decision_thr`), the number of poses
    ``n``, and the refine probability's ``auc``, ``spread``, ``moves`` and
    ``refined_better`` (:func:`discrimination`)."""
    outputs = data.outputs
    inputs = as_results(outputs, [o.input_keypoints for o in outputs])
    report = dict(
        input=data.ap([o.input_keypoints for o in outputs]),
        refined=data.ap([o.keypoints for o in outputs]),
        oracle=data.ap(oracle(outputs, data.gt, inputs, data.sigmas)),
        decision={thr: data.ap(decide(outputs, thr))
                  for thr in thresholds})
    report['chosen'] = choose_decision_thr([report['input']],
                                           [report['decision']])
    report['n'] = len(outputs)
    report.update(discrimination(data.table()))
    return report


def report_lines(report: dict) -> List[str]:
    """The report (:func:`report_of`) as lines of text."""
    n = report['n']
    headroom = report['oracle'] - report['input']
    low, high = report['spread']
    lines = [
        f'{n} poses: input AP {report["input"]:.3f}, all refined '
        f'{report["refined"]:.3f}, oracle per-joint choice '
        f'{report["oracle"]:.3f} (headroom {headroom:+.3f})',
        f'refine probability over the {report["moves"]} present joints '
        f'that move: ROC AUC {report["auc"]:.2f} (refined nearer the '
        f'ground truth: {report["refined_better"]:.0%} of them), 5th-95th '
        f'percentile {low:.2f}-{high:.2f}'
    ]
    for thr, value in report['decision'].items():
        share = (value - report['input']) / headroom if headroom else 0.
        lines.append(f'  decision thr {thr:.2f}: AP {value:.3f} '
                     f'({value - report["input"]:+.3f}; {share:.0%} of '
                     'headroom)')
    lines.append('chosen (best gain that does not lower the AP): '
                 '--cfg-options model.test_cfg.decision_thr='
                 f'{report["chosen"]}')
    return lines
