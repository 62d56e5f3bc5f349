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
import copy
import os.path as osp
import sys
import tempfile

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

import numpy as np  # noqa: E402
from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpose.registry import DATASETS  # noqa: E402
from xtcocotools.coco import COCO  # noqa: E402

from posefix_mm.apis import (dump_json_atomic, init_refiner,  # noqa: E402
                             refine_pipeline, refine_samples)
from posefix_mm.apis.refine_results import write_atomic  # noqa: E402
from posefix_mm.datasets import PoseFixResultsDataset  # noqa: E402
from posefix_mm.datasets.coco_results import coco_entry  # noqa: E402
from posefix_mm.datasets.transforms import (  # noqa: E402
    COCO_ERROR_TABLES, SynthesizePoseErrors)
from posefix_mm.evaluation import coco_keypoint_eval, match  # noqa: E402
from posefix_mm.evaluation.calibration import (  # noqa: E402
    calibrated_config, choose_decision_thr)
from posefix_mm.models.heads.posefix_head import keeps_input  # noqa: E402


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
        default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0])
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the figures as JSON')
    parser.add_argument(
        '--save', help='write CONFIG with the chosen threshold as this '
        'config file (.py)')
    return parser.parse_args(argv)


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
    """Keypoints (N, K, 2) as the head decides at ``thr``
    (:func:`keeps_input`) from the refine probabilities."""
    chosen = []
    for o in outputs:
        inp = o.info['input_keypoints'][0]
        present = o.info['input_keypoints_visible'][0] > 0
        keep = keeps_input(o.refine_probs, present, thr)[:, None]
        chosen.append(np.where(keep, inp, o.keypoints))
    return chosen


def oracle(outputs, gt: dict, inputs: list, sigmas):
    """Keypoints (N, K, 2): per joint, whichever of input and refined is
    nearer the ground-truth person the input was matched to (COCO's greedy
    OKS matching); unmatched entries keep the refined pose."""
    chosen = [o.keypoints for o in outputs]
    matched = match(gt, inputs, sigmas)
    for index, image_id, person, _ in matched['pairs']:
        o = outputs[index]
        gt_kpts = matched['persons'][image_id][person]['keypoints']
        inp = o.info['input_keypoints'][0]
        present = o.info['input_keypoints_visible'][0] > 0
        input_nearer = ((inp - gt_kpts)**2).sum(-1) < (
            (o.keypoints - gt_kpts)**2).sum(-1)
        chosen[index] = np.where((input_nearer & present)[:, None], inp,
                                 o.keypoints)
    return chosen


def as_results(outputs, keypoints) -> list:
    return [
        coco_entry(o.info['img_id'], k, score=o.info['bbox_score'][0])
        for o, k in zip(outputs, keypoints)
    ]


def main(argv=None):
    args = parse_args(argv)
    if args.save and not args.save.endswith('.py'):
        raise SystemExit(f'error: --save {args.save}: a config file ends in '
                         '.py')
    init_default_scope('mmpose')
    img_ids = None
    if args.images:
        start, end = (int(v) for v in args.images.split(':'))
        img_ids = sorted(COCO(args.ann).getImgIds())[start:end]
    with tempfile.TemporaryDirectory() as tmp:
        input_file = args.input
        if args.synthetic:
            input_file = osp.join(tmp, 'synthetic.json')
            dump_json_atomic(
                synthetic_results(args.ann, args.img_dir, args.synthetic,
                                  args.seed, args.absent_rate, img_ids),
                input_file)
        dataset = PoseFixResultsDataset.from_files(
            input_file, args.img_dir, ann_file=args.ann)
    cfg = Config.fromfile(args.config)
    model = init_refiner(cfg, args.checkpoint, args.device,
                         test_cfg=dict(decision_thr=None))
    if model.head.decision is None:
        raise SystemExit('error: the model has no per-joint decision')
    outputs, _ = refine_samples(
        model, (dataset.get_data_info(i) for i in range(len(dataset))),
        Compose(refine_pipeline(model.cfg)), args.batch_size,
        total=len(dataset))
    outputs.sort(key=lambda o: o.info['id'])
    coco = COCO(args.ann)
    gt = dict(annotations=list(coco.anns.values()))
    sigmas = model.dataset_meta['sigmas']
    inputs = as_results(outputs, [o.info['input_keypoints'][0]
                                  for o in outputs])

    def ap(keypoints):
        return coco_keypoint_eval(coco, as_results(outputs, keypoints),
                                  sigmas, img_ids)['AP']

    report = dict(
        input=ap([o.info['input_keypoints'][0] for o in outputs]),
        refined=ap([o.keypoints for o in outputs]),
        oracle=ap(oracle(outputs, gt, inputs, sigmas)),
        decision={thr: ap(decide(outputs, thr)) for thr in args.thresholds})
    report['chosen'] = choose_decision_thr([report['input']],
                                           [report['decision']])
    print_report(report, len(outputs))
    if args.out:
        dump_json_atomic(report, args.out)
    if args.save:
        write_atomic(
            args.save,
            calibrated_config(args.config, report['chosen'],
                              args.input or f'synthetic {args.synthetic}'))
        print(f'wrote {args.save}: use it as the refiner config')
    return report


def print_report(report: dict, n: int) -> None:
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


if __name__ == '__main__':
    sys.exit(main() and 0)
