"""Forward cost of PoseFix R50 256x192 against MMPose's SimpleBaseline R50
256x192, batch 32, CPU, in one process.

PoseFix's forward = render the input pose + backbone with a 3+K-channel stem
+ head with skip connections + softmax/soft-argmax; SimpleBaseline's =
backbone + head (heatmaps). Prints the measured time ratio next to the ratio
of multiply-accumulate counts (mmengine's FlopAnalyzer, which counts MACs).
Target: time ratio within 1.05x of the MAC ratio.

Usage: .venv/bin/python benchmarks/bench_model.py [--batch 32] [--repeat 3]
"""
import argparse
import os.path as osp
import sys
from functools import partial

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import posefix_mm  # noqa: E402,F401
from mmengine.analysis import FlopAnalyzer  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmpose.registry import MODELS  # noqa: E402
from mmpose.structures import PoseDataSample  # noqa: E402

from posefix_mm.models.utils import soft_argmax  # noqa: E402
from timing import interleaved_medians  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIMPLE_BASELINE = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='HeatmapHead',
        in_channels=2048,
        out_channels=17,
        loss=dict(type='KeypointMSELoss', use_target_weight=True)))


class PoseFixForward(torch.nn.Module):
    """Image + input pose -> coordinates, everything PoseFix runs."""

    def __init__(self, model, samples):
        super().__init__()
        self.model, self.samples = model, samples

    def forward(self, inputs):
        logits = self.model._forward(inputs, self.samples[:len(inputs)])
        return soft_argmax(logits)[0]


class BaselineForward(torch.nn.Module):

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model._forward(inputs)


def input_pose_samples(batch, w, h, rng):
    samples = []
    for _ in range(batch):
        sample = PoseDataSample(metainfo=dict(flip_indices=list(range(17))))
        sample.gt_instances = InstanceData(
            input_keypoints=rng.uniform([0, 0], [w, h], (1, 17, 2)),
            input_keypoints_visible=np.ones((1, 17)))
        samples.append(sample)
    return samples


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'posefix_res50_8xb9-240e_coco-256x192.py'))
    posefix = MODELS.build(cfg.model).eval()
    baseline = MODELS.build(SIMPLE_BASELINE).eval()
    w, h = cfg.codec.input_size
    inputs = torch.randn(args.batch, 3, h, w)
    samples = input_pose_samples(args.batch, w, h, np.random.default_rng(0))
    modules = dict(
        posefix=PoseFixForward(posefix, samples),
        baseline=BaselineForward(baseline))

    macs = {
        name: FlopAnalyzer(m, inputs[:1]).unsupported_ops_warnings(
            False).uncalled_modules_warnings(False).total()
        for name, m in modules.items()
    }
    with torch.no_grad():
        seconds = interleaved_medians(
            {name: partial(m, inputs) for name, m in modules.items()},
            args.repeat)
    mac_ratio = macs['posefix'] / macs['baseline']
    time_ratio = seconds['posefix'] / seconds['baseline']
    print(f'batch {args.batch}, {w}x{h}, {torch.get_num_threads()} threads, '
          f'median of {args.repeat}, interleaved')
    for name in modules:
        print(f'{name:9s} {macs[name] / 1e9:6.2f} GMACs/sample  '
              f'{seconds[name]:6.2f} s/batch  '
              f'{args.batch / seconds[name]:6.1f} samples/s')
    print(f'MAC ratio  PoseFix / SimpleBaseline: {mac_ratio:.3f}')
    print(f'time ratio PoseFix / SimpleBaseline: {time_ratio:.3f}')
    print(f'time ratio / MAC ratio: {time_ratio / mac_ratio:.3f} '
          '(target <= 1.05)')


if __name__ == '__main__':
    main()
