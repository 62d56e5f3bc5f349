"""The default per-joint decision of a refiner, fitted and chosen on real
and realistic errors on *training* images, never on coco_mini val.

Fitted on (the decision's coefficients, ``fit_cue_decision``):
  * MediaPipe BlazePose on the lspet persons 0:3000 and on coco_mini train;
  * the "strong" synthetic family (``posefix_mm.apis.synthetic_inputs``: a
    strong top-down model's error level) on lspet images 0:800 and coco_mini
    train, and the official ("default") family on coco_mini train.
Chosen on (the threshold; held out of the refiner's training and of the
fit):
  * BlazePose on the lspet persons 9000:10000 and on coco_extra, each as it
    is and with its joints scored below 0.5 written as absent (0, 0, 0);
  * the strong family and every joint "good" on lspet 9000:10000 and on
    coco_extra.
Rule (fixed before looking): the best mean AP gain among the thresholds
that lower the AP of no held-out input; 1.0 (present joints keep their
input) when none.

The BlazePose results are made once with tools/blazepose_results.py in
.venv-blazepose (`make blazepose-venv`) and cached in --work-dir.

Usage:
    python benchmarks/held_out_decision.py CONFIG CHECKPOINT
        [--work-dir work_dirs/held_out] [--lspet ../shared/data/lspet]
        [--extra ../shared/data/coco_extra] [--coco ../shared/data/coco_mini]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from posefix_mm.apis import dump_json_atomic, init_refiner  # noqa: E402
from posefix_mm.apis.calibrate import refine_probs  # noqa: E402
from posefix_mm.apis.decision_report import (  # noqa: E402
    decide, discrimination, refine_with_truth)
from posefix_mm.evaluation.calibration import (  # noqa: E402
    choose_decision_thr, cue_decision_probs, fit_cue_decision)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ABSENT_BELOW = 0.5
THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
              1.0)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs',
                                                       'held_out'))
    data = osp.join(REPO, '..', 'shared', 'data')
    parser.add_argument('--lspet', default=osp.join(data, 'lspet'))
    parser.add_argument('--extra', default=osp.join(data, 'coco_extra'))
    parser.add_argument('--coco', default=osp.join(data, 'coco_mini'))
    return parser.parse_args()


def blazepose(ann: str, img_dir: str, out: str, persons=None) -> str:
    """BlazePose's results on ``ann``'s persons, made once."""
    if not osp.isfile(out):
        cmd = [
            osp.join(REPO, '.venv-blazepose', 'bin', 'python'),
            osp.join(REPO, 'tools', 'blazepose_results.py'), '--ann', ann,
            '--img-dir', img_dir, '--out', out
        ]
        subprocess.run(cmd + (['--persons', persons] if persons else []),
                       check=True)
    return out


def with_absent(path: str) -> str:
    """The results with joints scored below ABSENT_BELOW at (0, 0, 0)."""
    with open(path) as f:
        results = json.load(f)
    for entry in results:
        kpts = entry['keypoints']
        for j in range(0, len(kpts), 3):
            if kpts[j + 2] < ABSENT_BELOW:
                kpts[j:j + 3] = [0.0, 0.0, 0.0]
    out = path.replace('.json', '_absent.json')
    dump_json_atomic(results, out)
    return out


def main():
    args = parse_args()
    lspet = (osp.join(args.lspet, 'annotations', 'lspet_coco17.json'),
             osp.join(args.lspet, 'images'))
    extra = (osp.join(args.extra, 'annotations',
                      'person_keypoints_train2017.json'),
             osp.join(args.extra, 'train2017'))
    train = (osp.join(args.coco, 'annotations',
                      'person_keypoints_train2017.json'),
             osp.join(args.coco, 'train2017'))
    work = args.work_dir
    os.makedirs(work, exist_ok=True)

    def results(name, data, persons=None):
        return dict(input_file=blazepose(*data, osp.join(work, name),
                                         persons))

    fit = {
        'BlazePose, lspet 0:3000':
        (lspet, results('blazepose_lspet_0_3000.json', lspet, '0:3000')),
        'BlazePose, coco_mini train':
        (train, results('blazepose_coco_mini_train.json', train)),
        'strong, lspet 0:800': (lspet,
                                dict(synthetic='strong', seed=2,
                                     images='0:800')),
        'strong, coco_mini train': (train, dict(synthetic='strong', seed=2)),
        'default, coco_mini train': (train,
                                     dict(synthetic='default', seed=2)),
    }
    bp_lspet = results('blazepose_lspet_held_out.json', lspet, '9000:10000')
    bp_extra = results('blazepose_coco_extra.json', extra)
    held_out = {
        'BlazePose, lspet 9000:10000': (lspet, bp_lspet),
        'BlazePose, coco_extra': (extra, bp_extra),
        'BlazePose, lspet 9000:10000, absent < 0.5':
        (lspet, dict(input_file=with_absent(bp_lspet['input_file']))),
        'BlazePose, coco_extra, absent < 0.5':
        (extra, dict(input_file=with_absent(bp_extra['input_file']))),
        'strong, lspet 9000:10000': (lspet,
                                     dict(synthetic='strong', seed=1,
                                          images='9000:10000')),
        'strong, coco_extra': (extra, dict(synthetic='strong', seed=1)),
        'every joint good, lspet 9000:10000':
        (lspet, dict(synthetic='good', seed=1, images='9000:10000')),
        'every joint good, coco_extra': (extra,
                                         dict(synthetic='good', seed=1)),
    }
    # the learned decision's probabilities (the config's decision_model
    # off): the cues are the same either way
    model = init_refiner(args.config, args.checkpoint, 'cpu',
                         test_cfg=dict(decision_thr=None,
                                       decision_model=None))

    def refined(name, data, kwargs):
        print(f'== {name}', flush=True)
        return refine_with_truth(None, None, *data, model=model, **kwargs)

    tables = [refined(n, *v).table() for n, v in fit.items()]
    decision = fit_cue_decision(
        tables, source='benchmarks/held_out_decision.py')
    rows, inputs, decisions = {}, [], []
    for name, value in held_out.items():
        data = refined(name, *value)
        probs = refine_probs(data.outputs, decision)
        base = data.ap([o.input_keypoints for o in data.outputs])
        aps = {t: data.ap(decide(data.outputs, t, probs))
               for t in THRESHOLDS}
        table = data.table()
        rows[name] = dict(
            input=base,
            refined=data.ap([o.keypoints for o in data.outputs]),
            decision=aps,
            learned=discrimination(table)['auc'],
            **discrimination(table, cue_decision_probs(decision, table)))
        inputs.append(base)
        decisions.append(aps)
    chosen = choose_decision_thr(inputs, decisions)
    print('\n| held-out input | input AP | all refined | ' +
          ' | '.join(f'{t:g}' for t in THRESHOLDS) +
          ' | ROC AUC (learned decision) | 5th-95th pct. |')
    print('|---' * (len(THRESHOLDS) + 5) + '|')
    for name, r in rows.items():
        low, high = r['spread']
        print(f'| {name} | {r["input"]:.3f} | '
              f'{r["refined"] - r["input"]:+.3f} | ' + ' | '.join(
                  f'{v - r["input"]:+.3f}' for v in r['decision'].values()) +
              f' | {r["auc"]:.2f} ({r["learned"]:.2f}) | {low:.2f}-'
              f'{high:.2f} |')
    print(f'\nchosen decision_thr (best mean gain, never lower): {chosen}')
    print('test_cfg of the config:')
    print(f'decision_thr={chosen}, decision_model={decision.to_dict()!r}')
    dump_json_atomic(
        dict(rows=rows, chosen=chosen, decision_model=decision.to_dict()),
        osp.join(work, 'held_out_decision.json'))


if __name__ == '__main__':
    sys.exit(main())
