"""The main job of posefix_mm: train the demo refiner on CPU and use it to
refine a real estimator's results on coco_mini val.

1. Train configs/posefix_blazepose_coco-mini-lspet-256x192.py (started
   from BlazePose's landmark network, docs/pretrained.md; coco_mini train
   and lspet, ~10 minutes on 2 cores) into WORK_DIR/<config name>/, unless
   it already holds a checkpoint (--retrain to train again).
2. Refine predictions/blazepose_full_val2017.json (MediaPipe BlazePose) on
   val with tools/refine.py: AP table before/after, refined JSON and
   input | refined pictures in work_dirs/demo/.

Usage:
    python tools/demo.py [--data ../shared/data/coco_mini]
        [--extra ../shared/data/coco_extra] [--lspet ../shared/data/lspet]
        [--work-dir work_dirs/demo] [--retrain]
"""
import argparse
import os.path as osp
import subprocess
import sys

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)
CONFIG = osp.join(REPO, 'configs',
                  'posefix_blazepose_coco-mini-lspet-256x192.py')


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--data', default=osp.join(REPO, '..', 'shared', 'data', 'coco_mini'))
    parser.add_argument(
        '--extra',
        default=osp.join(REPO, '..', 'shared', 'data', 'coco_extra'))
    parser.add_argument(
        '--lspet', default=osp.join(REPO, '..', 'shared', 'data', 'lspet'))
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs',
                                                       'demo'))
    parser.add_argument('--retrain', action='store_true')
    return parser.parse_args()


def data_options(data: str, extra: str, lspet: str) -> list:
    """One override per data folder: each moves every path under it."""
    return [
        f'data_root={osp.abspath(data)}/', f'extra_root={osp.abspath(extra)}/',
        f'lspet_root={osp.abspath(lspet)}/'
    ]


def checkpoint_in(work_dir: str):
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return None
    with open(last) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def run(cmd: list) -> None:
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    args = parse_args()
    for path, what in ((args.data, '--data'), (args.extra, '--extra'),
                       (args.lspet, '--lspet')):
        if not osp.isdir(path):
            raise SystemExit(f'error: {what}: no folder {path}')
    # a training folder per config: another demo model's checkpoint is
    # never taken for this one
    train_dir = osp.join(args.work_dir,
                         osp.splitext(osp.basename(CONFIG))[0])
    checkpoint = None if args.retrain else checkpoint_in(train_dir)
    if checkpoint:
        print(f'reusing {checkpoint} (--retrain / RETRAIN=1 to train again)')
    else:
        print('training the demo refiner (about 10 minutes on 2 CPU cores)')
        run([
            sys.executable,
            osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', train_dir,
            '--cfg-options', *data_options(args.data, args.extra, args.lspet)
        ])
        checkpoint = checkpoint_in(train_dir)
    run([
        sys.executable,
        osp.join(TOOLS, 'refine.py'), CONFIG, checkpoint, '--input',
        osp.join(args.data, 'predictions', 'blazepose_full_val2017.json'),
        '--img-dir',
        osp.join(args.data, 'val2017'), '--ann',
        osp.join(args.data, 'annotations', 'person_keypoints_val2017.json'),
        '--out',
        osp.join(args.work_dir, 'refined_blazepose_full_val2017.json'),
        '--vis-dir',
        osp.join(args.work_dir, 'vis')
    ])


if __name__ == '__main__':
    main()
