"""Forward and ``predict`` cost of PoseFix R50 256x192 against MMPose's
SimpleBaseline R50 256x192, batch 32, CPU, in one process.

PoseFix's forward = render the input pose + backbone with a 3+K-channel stem
+ head with skip connections + softmax/soft-argmax; SimpleBaseline's =
backbone + head (heatmaps). Prints the measured time ratio next to the ratio
of multiply-accumulate counts (mmengine's FlopAnalyzer, which counts MACs),
as computed (the stem's pose channels by ``pose_maps_conv``) and as the
architecture has them (the stem convolving 17 rendered maps).

``predict`` is what ``tools/test.py`` runs per batch: each model's
``predict`` with its config's test settings (both flip test; PoseFix's
with the refine contract's fields, SimpleBaseline's with MMPose's
``flip_mode='heatmap'``, ``shift_heatmap=True``), decoded to image
coordinates. Target: predict time ratio <= 1.20.

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
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True),
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='HeatmapHead',
        in_channels=2048,
        out_channels=17,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=dict(
            type='MSRAHeatmap',
            input_size=(192, 256),
            heatmap_size=(48, 64),
            sigma=2)))


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
    """Test-time samples as the test pipeline packs them: the crop's
    metainfo, a box, an input pose with joint scores."""
    samples = []
    for _ in range(batch):
        sample = PoseDataSample(
            metainfo=dict(
                flip_indices=[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13,
                              16, 15],
                input_size=(w, h),
                input_center=np.array([320., 240.], np.float32),
                input_scale=np.array([1.25 * w, 1.25 * h], np.float32)))
        sample.gt_instances = InstanceData(
            bboxes=np.array([[240., 80., 400., 400.]], np.float32),
            bbox_scores=np.ones(1, np.float32),
            input_keypoints=rng.uniform([0, 0], [w, h], (1, 17, 2)),
            input_keypoints_visible=np.ones((1, 17)),
            input_keypoint_scores=rng.uniform(0.2, 1, (1, 17)))
        samples.append(sample)
    return samples


def ratios(name, seconds, batch, macs=None):
    """Prints each model's time (and MACs) and the ratio PoseFix /
    SimpleBaseline; returns it."""
    for model in seconds:
        gmacs = '' if macs is None else \
            f'{macs[model] / 1e9:6.2f} GMACs/sample  '
        print(f'{name:8s} {model:9s} {gmacs}{seconds[model]:6.2f} s/batch  '
              f'{batch / seconds[model]:6.1f} samples/s')
    ratio = seconds['posefix'] / seconds['baseline']
    print(f'{name} time ratio PoseFix / SimpleBaseline: {ratio:.3f}')
    return ratio


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
    models = dict(posefix=posefix, baseline=baseline)
    print(f'batch {args.batch}, {w}x{h}, {torch.get_num_threads()} threads, '
          f'median of {args.repeat}, interleaved')
    with torch.no_grad():
        forward = interleaved_medians(
            {name: partial(m, inputs) for name, m in modules.items()},
            args.repeat)
        predict = interleaved_medians(
            {
                name: lambda m=m: m.predict(inputs, [
                    s.clone() for s in samples])
                for name, m in models.items()
            }, args.repeat)
    # the architecture's count: the stem convolving the 17 rendered maps
    posefix._separable_stem = lambda: False
    rendered = FlopAnalyzer(
        modules['posefix'], inputs[:1]).unsupported_ops_warnings(
            False).uncalled_modules_warnings(False).total()
    del posefix._separable_stem
    mac_ratio = macs['posefix'] / macs['baseline']
    print(f'MAC ratio  PoseFix / SimpleBaseline: {mac_ratio:.3f} as computed '
          f'(the pose channels through pose_maps_conv), '
          f'{rendered / macs["baseline"]:.3f} with the rendered maps')
    time_ratio = ratios('forward', forward, args.batch, macs)
    print(f'forward time ratio / MAC ratio as computed: '
          f'{time_ratio / mac_ratio:.3f}')
    predict_ratio = ratios('predict', predict, args.batch)
    print(f'predict time ratio: {predict_ratio:.3f} (target <= 1.20)')


if __name__ == '__main__':
    main()
