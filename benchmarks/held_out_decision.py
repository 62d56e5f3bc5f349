"""The per-joint decision of a refiner on real estimators' outputs on
held-out *training* images, and the default threshold chosen from them.

Inputs (each as it is, and with its joints scored below 0.5 written as
absent, (0, 0, 0), as estimators such as YOLO-pose do):
  * MediaPipe BlazePose on the lspet persons the demo configs hold out
    (9000:10000);
  * MediaPipe BlazePose on coco_extra (held out of the BlazePose-start
    demo config's training).
The BlazePose results are made once with tools/blazepose_results.py in
.venv-blazepose (`make blazepose-venv`) and cached in --work-dir. Next to
them, the same persons with every joint synthesized "good" (seed 1): a
precise estimator, where refining can only lose.

Rule (fixed before looking): the best mean AP gain among the thresholds that
lower the AP of no input; 1.0 (present joints keep their input) when none.

Usage:
    python benchmarks/held_out_decision.py CONFIG CHECKPOINT
        [--work-dir work_dirs/held_out] [--lspet ../shared/data/lspet]
        [--extra ../shared/data/coco_extra]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import decision_report  # noqa: E402

from posefix_mm.apis import dump_json_atomic  # noqa: E402
from posefix_mm.evaluation.calibration import choose_decision_thr  # noqa

ABSENT_BELOW = 0.5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs',
                                                       'held_out'))
    data = osp.join(REPO, '..', 'shared', 'data')
    parser.add_argument('--lspet', default=osp.join(data, 'lspet'))
    parser.add_argument('--extra', default=osp.join(data, 'coco_extra'))
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


def with_absent(path: str, out: str) -> str:
    """The results with joints scored below ABSENT_BELOW at (0, 0, 0)."""
    with open(path) as f:
        results = json.load(f)
    for entry in results:
        kpts = entry['keypoints']
        for j in range(0, len(kpts), 3):
            if kpts[j + 2] < ABSENT_BELOW:
                kpts[j:j + 3] = [0.0, 0.0, 0.0]
    dump_json_atomic(results, out)
    return out


def main():
    args = parse_args()
    lspet = (osp.join(args.lspet, 'annotations', 'lspet_coco17.json'),
             osp.join(args.lspet, 'images'))
    extra = (osp.join(args.extra, 'annotations',
                      'person_keypoints_train2017.json'),
             osp.join(args.extra, 'train2017'))
    work = args.work_dir
    os.makedirs(work, exist_ok=True)
    files = {
        'lspet 9000:10000':
        (blazepose(*lspet, osp.join(work, 'blazepose_lspet_held_out.json'),
                   '9000:10000'), *lspet),
        'coco_extra':
        (blazepose(*extra, osp.join(work, 'blazepose_coco_extra.json')),
         *extra),
    }
    for name, (path, ann, img_dir) in list(files.items()):
        files[name + ', absent < 0.5'] = (with_absent(
            path, path.replace('.json', '_absent.json')), ann, img_dir)
    runs = {
        name: ['--input', path, '--ann', ann, '--img-dir', img_dir]
        for name, (path, ann, img_dir) in files.items()
    }
    good = ['--synthetic', 'good', '--seed', '1']
    runs['lspet 9000:10000, every joint good'] = good + [
        '--images', '9000:10000', '--ann', lspet[0], '--img-dir', lspet[1]
    ]
    runs['coco_extra, every joint good'] = good + [
        '--ann', extra[0], '--img-dir', extra[1]
    ]
    reports = {}
    for name, run in runs.items():
        print(f'== {name}', flush=True)
        reports[name] = decision_report.main(
            [args.config, args.checkpoint] + run)
    chosen = choose_decision_thr([r['input'] for r in reports.values()],
                                 [r['decision'] for r in reports.values()])
    print('\n| input | input AP | all refined | oracle | ' + ' | '.join(
        f'{t:g}' for t in next(iter(reports.values()))['decision']) + ' |')
    for name, r in reports.items():
        print(f'| {name} | {r["input"]:.3f} | '
              f'{r["refined"] - r["input"]:+.3f} | '
              f'{r["oracle"] - r["input"]:+.3f} | ' + ' | '.join(
                  f'{v - r["input"]:+.3f}' for v in r['decision'].values()) +
              ' |')
    print(f'\nchosen decision_thr (best mean gain, never lower): {chosen}')
    dump_json_atomic(dict(reports=reports, chosen=chosen),
                     osp.join(work, 'held_out_decision.json'))


if __name__ == '__main__':
    main()
