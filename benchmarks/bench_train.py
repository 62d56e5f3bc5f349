"""Training throughput of PoseFix against MMPose's SimpleBaseline with the
same backbone, resolution and batch, in one process.

A training iteration is the config's DataLoader (image loading, for PoseFix
also the error synthesis and the input pose), forward, backward and the
optimizer step. The two models take turns (P, B, P, B, ...) after a warm-up
round; each is also timed on one batch prepared in advance (its network
alone), which gives the data pipeline's share of its iteration. The time
ratio is printed next to the ratio of forward multiply-accumulates
(mmengine's FlopAnalyzer); goal: within 1.05x of it.

Usage: .venv/bin/python benchmarks/bench_train.py [--posefix CONFIG]
    [--baseline CONFIG] [--batch 32] [--steps 6] [--repeat 3] [--workers 2]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import posefix_mm  # noqa: E402,F401
from mmengine.analysis import FlopAnalyzer  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmpose.registry import MODELS  # noqa: E402

from bench_model import (BaselineForward, PoseFixForward,  # noqa: E402
                         input_pose_samples)
from bench_train_demo import forever  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(REPO, '..', 'shared', 'data', 'coco_mini') + '/'


def setup(config: str, batch: int, workers: int):
    """Model, optimizer wrapper and an endless training loader."""
    cfg = Config.fromfile(config)
    cfg.train_dataloader.batch_size = batch
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers > 0
    cfg.train_dataloader.dataset.data_root = DATA
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='Adam', lr=1e-3)))
    loader = forever(Runner.build_dataloader(cfg.train_dataloader, seed=0))
    return cfg, model, optim, loader


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--posefix',
        default=osp.join(REPO, 'configs', 'posefix_r18_coco-mini-128x96.py'))
    parser.add_argument(
        '--baseline',
        default=osp.join(REPO, 'configs', 'baselines',
                         'td-hm_res18_coco-mini-128x96.py'))
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()
    init_default_scope('mmpose')
    torch.manual_seed(0)
    models = {
        'PoseFix': setup(args.posefix, args.batch, args.workers),
        'SimpleBaseline': setup(args.baseline, args.batch, args.workers),
    }
    sizes = {name: tuple(m[0].codec['input_size']) for name, m in
             models.items()}
    if len(set(sizes.values())) != 1:
        raise SystemExit(f'the two configs differ in resolution: {sizes}')
    w, h = sizes['PoseFix']

    # forward MACs of one sample, as benchmarks/bench_model.py counts them
    x = torch.randn(1, 3, h, w)
    samples = input_pose_samples(1, w, h, np.random.default_rng(0))
    with torch.no_grad():
        macs = dict(
            PoseFix=FlopAnalyzer(
                PoseFixForward(models['PoseFix'][1], samples),
                x).unsupported_ops_warnings(False).uncalled_modules_warnings(
                    False).total(),
            SimpleBaseline=FlopAnalyzer(
                BaselineForward(models['SimpleBaseline'][1]),
                x).unsupported_ops_warnings(False).uncalled_modules_warnings(
                    False).total())

    fixed = {name: next(m[3]) for name, m in models.items()}

    def steps(name, source):
        _, model, optim, _ = models[name]
        for _ in range(args.steps):
            model.train_step(source(), optim)

    def drain(name):
        for _ in range(2 * args.workers):  # what was prefetched meanwhile
            next(models[name][3])

    jobs = {}
    for name in models:
        jobs[f'{name} iteration'] = (
            lambda name=name: drain(name),
            lambda name=name: steps(name, lambda: next(models[name][3])))
        jobs[f'{name} network alone'] = (
            lambda: None,
            lambda name=name: steps(name, lambda: fixed[name]))
    times = {name: [] for name in jobs}
    for _ in range(args.repeat + 1):  # the first round warms up
        for name, (before, job) in jobs.items():
            before()
            start = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - start)
    times = {name: statistics.median(t[1:]) for name, t in times.items()}

    print(f'{w}x{h}, batch {args.batch}, {args.steps} steps, median of '
          f'{args.repeat} in turns, {args.workers} DataLoader workers, '
          f'{torch.get_num_threads()} torch threads')
    for name in models:
        full, alone = times[f'{name} iteration'], times[f'{name} network alone']
        print(f'{name:15s} {macs[name] / 1e9:5.2f} GMACs/sample  '
              f'{args.steps * args.batch / full:6.1f} samples/s  data '
              f'pipeline share {max(0., 1 - alone / full):5.1%}')
    mac_ratio = macs['PoseFix'] / macs['SimpleBaseline']
    time_ratio = (times['PoseFix iteration'] /
                  times['SimpleBaseline iteration'])
    print(f'MAC ratio  PoseFix / SimpleBaseline: {mac_ratio:.3f}')
    print(f'time ratio PoseFix / SimpleBaseline: {time_ratio:.3f}')
    print(f'time ratio / MAC ratio: {time_ratio / mac_ratio:.3f} '
          '(goal <= 1.05)')
    alone = (times['PoseFix network alone'] /
             times['SimpleBaseline network alone'])
    print(f'networks alone: time ratio {alone:.3f}, / MAC ratio '
          f'{alone / mac_ratio:.3f}')


if __name__ == '__main__':
    main()
