"""The ONNX refiner on onnxruntime against the torch model (eager), in one
process, on the same prepared batches of BlazePose crops: packed batch in,
refined poses in image coordinates out (flip test, decision as configured).
Also the whole refinement (read, crop, network) of each backend.

Usage: .venv/bin/python benchmarks/bench_onnx.py [--config CONFIG]
    [--checkpoint CKPT] [--onnx FILE] [--data DIR] [--batch-size 32]
    [--repeat 5] [--copies 1]

Without --onnx the model is exported first (to a temporary file). Both
backends use torch's thread count (OMP_NUM_THREADS).
"""
import argparse
import os.path as osp
import sys
import tempfile

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import posefix_mm  # noqa: E402,F401
from mmcv.transforms import Compose  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from posefix_mm.apis import (init_refiner, refine_pipeline,  # noqa: E402
                             refine_samples)
from posefix_mm.deploy import OnnxRefiner, export_onnx  # noqa: E402
from bench_refine import COCO_MINI, DEMO_CONFIG, blazepose_infos  # noqa: E402
from timing import interleaved_medians  # noqa: E402


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--config', default=DEMO_CONFIG)
    parser.add_argument(
        '--checkpoint', help='weights (speed does not need them)')
    parser.add_argument('--onnx', help='the exported refiner of --config')
    parser.add_argument('--data', default=COCO_MINI)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--copies', type=int, default=1,
                        help='the BlazePose file this many times over')
    args = parser.parse_args()
    init_default_scope('mmpose')
    model = init_refiner(args.config, args.checkpoint).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.onnx
        if path is None:
            path = osp.join(tmp, 'refiner.onnx')
            print('exporting ...', flush=True)
            export_onnx(model, path)
        onnx_model = OnnxRefiner(path, model.dataset_meta)
        run(args, model, onnx_model)


def run(args, model, onnx_model):
    pipeline = Compose(refine_pipeline(model.cfg))
    infos = blazepose_infos(args.data, args.copies)
    n = len(infos)
    packed = [
        pseudo_collate([pipeline(dict(i))
                        for i in infos[s:s + args.batch_size]])
        for s in range(0, n, args.batch_size)
    ]

    def network(backend):
        batches = [backend.data_preprocessor(p, False) for p in packed]

        def job():
            with torch.no_grad():
                for data in batches:
                    backend.predict(data['inputs'], data['data_samples'])

        return job

    def refine(backend):
        return lambda: refine_samples(backend, infos, pipeline,
                                      args.batch_size, progress=False)

    seconds = interleaved_medians(
        {
            'torch': network(model),
            'onnxruntime': network(onnx_model),
            'refine, torch': refine(model),
            'refine, onnxruntime': refine(onnx_model),
        }, args.repeat)
    print(f'{n} BlazePose instances on coco_mini val, batch '
          f'{args.batch_size}, {torch.get_num_threads()} threads, flip test '
          f'{model.test_cfg.get("flip_test")}, config '
          f'{osp.basename(args.config)}, torch {torch.__version__}, '
          f'onnxruntime {onnx_model.version}')
    for kind in ('', 'refine, '):
        base = seconds[f'{kind}torch']
        for backend in ('torch', 'onnxruntime'):
            t = seconds[f'{kind}{backend}']
            name = f'{kind or "network, "}{backend}:'
            print(f'{name:<23}{n / t:7.1f} instances/s, {base / t:.2f} x '
                  'torch eager')


if __name__ == '__main__':
    main()
