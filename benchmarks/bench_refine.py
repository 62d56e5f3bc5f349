"""Refinement throughput: tools/refine.py's engine (read image, crop, render
the input pose, forward with flip test, back to image coordinates) against
the pure model forward on the same, already prepared batches, in one process.

Usage: .venv/bin/python benchmarks/bench_refine.py [--config CONFIG]
    [--data DIR] [--batch-size 32] [--repeat 3] [--workers 0 1 2]
    [--copies 1] [--shuffle] [--threads N] [--device cpu|cuda]
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
from mmcv.transforms import Compose  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from posefix_mm.apis import (init_refiner, refine_pipeline,  # noqa: E402
                             refine_samples)
from posefix_mm.datasets import PoseFixResultsDataset  # noqa: E402
from timing import interleaved_medians  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(REPO, 'configs',
                       'posefix_r18_coco-mini-lspet-128x96.py')
COCO_MINI = osp.join(REPO, '..', 'shared', 'data', 'coco_mini')


def blazepose_infos(data: str, copies: int = 1) -> list:
    """The samples of coco_mini val's BlazePose results (``data``: the
    coco_mini folder), ``copies`` times over; each copy names the images by
    another path (``val2017/./``, ...), so that a copy's images are new ones
    to the refiner, to be decoded again."""
    dataset = PoseFixResultsDataset.from_files(
        osp.join(data, 'predictions', 'blazepose_full_val2017.json'),
        osp.join(data, 'val2017'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return [
        dict(info, img_path=osp.join(osp.dirname(info['img_path']),
                                     *['.'] * copy,
                                     osp.basename(info['img_path'])))
        for copy in range(copies) for info in infos
    ]


class LoadingOnly:
    """``model`` without its network: the batch goes through the data
    preprocessor, and ``predict`` returns predictions made beforehand. What
    ``refine_samples`` costs besides the network (reading, cropping,
    packing, normalising, collecting the outputs), in the main process."""

    def __init__(self, model, predictions: dict):
        self.data_preprocessor = model.data_preprocessor
        self.predictions = predictions

    def predict(self, inputs, data_samples: list) -> list:
        return self.predictions[len(data_samples)]


class NetworkTimed:
    """``model``, the seconds of its ``predict`` calls (the network, as
    the pure forward times it) summed in ``seconds``: how much of a
    refinement the network itself took, slowed or not by the loading
    beside it; and when the first call came (``first``, a
    ``time.perf_counter()``): the start-up, until the loading had the
    first batch ready (with workers: their start and a whole batch read by
    one of them)."""

    def __init__(self, model):
        self.model, self.data_preprocessor = model, model.data_preprocessor
        self.seconds, self.first = 0., None

    def predict(self, inputs, data_samples: list) -> list:
        start = time.perf_counter()
        if self.first is None:
            self.first = start
        try:
            return self.model.predict(inputs, data_samples)
        finally:
            self.seconds += time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--config', default=DEMO_CONFIG)
    parser.add_argument('--data', default=COCO_MINI)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2],
                        help='DataLoader workers of the variants')
    parser.add_argument('--copies', type=int, default=1,
                        help='refine the file this many times over')
    parser.add_argument('--shuffle', action='store_true',
                        help='the entries in a random order (seed 0), the '
                        'persons of an image apart, as in a results file '
                        'sorted by score')
    parser.add_argument('--threads', type=int,
                        help='torch threads of the network (default: '
                        "torch's, one per core); fewer leave cores to the "
                        'workers, as a GPU does')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmpose')
    # speed does not need weights
    model = init_refiner(args.config, None, args.device)
    pipeline = Compose(refine_pipeline(model.cfg))
    # more work: worker start-up amortised
    infos = blazepose_infos(args.data, args.copies)
    if args.shuffle:
        infos = [infos[i] for i in np.random.default_rng(0).permutation(
            len(infos))]
    n = len(infos)

    # the network's seconds and the start-up in each run of each variant
    network_seconds = {w: [] for w in args.workers}
    startup_seconds = {w: [] for w in args.workers}

    def refine(workers):

        def run():
            timed, start = NetworkTimed(model), time.perf_counter()
            refine_samples(timed, infos, pipeline, args.batch_size,
                           progress=False, num_workers=workers)
            network_seconds[workers].append(timed.seconds)
            startup_seconds[workers].append(timed.first - start)

        return run

    batches = [
        model.data_preprocessor(
            pseudo_collate([pipeline(dict(i))
                            for i in infos[s:s + args.batch_size]]), False)
        for s in range(0, n, args.batch_size)
    ]

    def forward():
        with torch.no_grad():
            for data in batches:
                model.predict(data['inputs'], data['data_samples'])

    with torch.no_grad():
        loading_only = LoadingOnly(
            model, {
                len(data['data_samples']):
                model.predict(data['inputs'], data['data_samples'])
                for data in batches
            })
    variants = {
        'loading alone, 0 workers':
        lambda: refine_samples(loading_only, infos, pipeline,
                               args.batch_size, progress=False),
        **{f'refine, {w} workers': refine(w) for w in args.workers}
    }
    seconds = interleaved_medians(dict(variants, forward=forward),
                                  args.repeat)
    t_forward = seconds.pop('forward')
    device = (torch.cuda.get_device_name()
              if args.device == 'cuda' else f'{torch.get_num_threads()} '
              'threads')
    print(f'{n} BlazePose instances on coco_mini val, batch '
          f'{args.batch_size}, {device}, flip test '
          f'{model.test_cfg.get("flip_test")}, config '
          f'{osp.basename(args.config)}'
          f'{", shuffled" if args.shuffle else ""}')
    print(f'pure model forward:        {n / t_forward:7.1f} instances/s')
    for name, t in seconds.items():
        print(f'{name + ":":<27}{n / t:7.1f} instances/s, '
              f'{t / t_forward:.2f} x the forward time')
    for workers, runs in network_seconds.items():
        # the first run is the warm-up
        print(f'refine, {workers} workers: the network '
              f'{statistics.median(runs[1:]) / t_forward:.2f} x the forward '
              f'time, first batch after '
              f'{statistics.median(startup_seconds[workers][1:]):.2f} s')


if __name__ == '__main__':
    main()
