"""Training throughput of the demo config: where an iteration's time goes.

Times, in turns, training steps (forward, backward, optimizer step) fed by
the config's DataLoader with 0, 1 and 2 worker processes, against the same
steps on one batch prepared in advance (the network alone), and reports
samples/s and each variant's time relative to the network alone. Before
each timed block the batches that the workers prefetched while the other
variants ran are taken out untimed: what is timed is the steady state.

Usage: .venv/bin/python benchmarks/bench_train_demo.py [--config CONFIG]
    [--steps 8] [--repeat 3] [--workers 0 1 2]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import posefix_mm  # noqa: E402,F401
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmpose.registry import MODELS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def forever(loader):
    while True:
        yield from loader


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--config',
        default=osp.join(REPO, 'configs',
                         'posefix_r18_coco-mini-lspet-128x96.py'))
    parser.add_argument('--steps', type=int, default=8)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2])
    args = parser.parse_args()
    init_default_scope('mmpose')
    cfg = Config.fromfile(args.config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    batch_size = cfg.train_dataloader.batch_size

    loaders = {}
    for workers in args.workers:
        loader_cfg = cfg.train_dataloader.copy()
        loader_cfg.num_workers = workers
        loader_cfg.persistent_workers = workers > 0
        loaders[workers] = forever(
            Runner.build_dataloader(loader_cfg, seed=0))
    fixed = next(loaders[args.workers[0]])

    def steps(source):
        for _ in range(args.steps):
            model.train_step(source(), optim)

    def drain(workers):
        for _ in range(2 * workers):  # DataLoader's prefetch_factor 2
            next(loaders[workers])

    jobs = {'network alone': (lambda: None, lambda: fixed)}
    for workers, loader in loaders.items():
        jobs[f'DataLoader, {workers} workers'] = (
            lambda workers=workers: drain(workers),
            lambda loader=loader: next(loader))
    times = {name: [] for name in jobs}
    for _ in range(args.repeat + 1):  # the first round warms up
        for name, (before, source) in jobs.items():
            before()
            start = time.perf_counter()
            steps(source)
            times[name].append(time.perf_counter() - start)
    times = {name: statistics.median(t[1:]) for name, t in times.items()}
    base = times['network alone']
    print(f'{args.config}: batch {batch_size}, {args.steps} steps, median of '
          f'{args.repeat}, {torch.get_num_threads()} torch threads')
    for name, t in times.items():
        rate = args.steps * batch_size / t
        print(f'{name:24s} {rate:6.1f} samples/s   x{t / base:.3f} of the '
              'network alone')


if __name__ == '__main__':
    main()
