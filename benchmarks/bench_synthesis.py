"""Speed of SynthesizePoseErrors on coco_mini training persons.

Prints, in one process:
  * ms per instance of the authors' algorithm (a loop port: 500 candidates
    per type and joint, Python rejection loops) and of SynthesizePoseErrors,
    and their ratio (target: >= 20x);
  * the share of the synthesis in the whole per-sample training pipeline
    (load + synthesis + affine + targets; target: < 5%).

Usage: .venv/bin/python benchmarks/bench_synthesis.py [--data DIR] [--repeat N]
"""
import argparse
import math
import os.path as osp
import random
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import posefix_mm  # noqa: E402,F401
from mmcv.transforms import Compose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpose.registry import DATASETS  # noqa: E402

from posefix_mm.datasets.transforms import (  # noqa: E402
    COCO_ERROR_TABLES, SynthesizePoseErrors, joint_type_probabilities)
from timing import interleaved_medians  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _loop_candidates(kind, center, lo, hi, anchors, d_jitter, num):
    """Rejection sampling of one type, one candidate at a time."""
    valid = []
    for _ in range(num):
        a, r = random.uniform(0, 2 * math.pi), random.uniform(lo, hi)
        p = (center[0] + r * math.cos(a), center[1] + r * math.sin(a))
        dists = [math.dist(p, q) for q in anchors]
        if kind == 4:
            ok = min(dists) >= d_jitter
        else:
            ok = dists.index(min(dists)) == anchors.index(center)
        if ok:
            valid.append(p)
    return valid


def authors_synthesize(info, num_candidates=500):
    """The authors' approach, in plain Python: per joint, 500 candidates per
    error type by rejection, then the type drawn among those that could be
    sampled, and one of its valid candidates."""
    gt = info['keypoints'][0].tolist()
    vis = (info['keypoints_visible'][0] > 0).tolist()
    flip = list(info['flip_indices'])
    x1, y1, x2, y2 = info['bbox'][0].tolist()
    area = (x2 - x1) * (y2 - y1)
    others = []
    for box, kpts, v in zip(info['other_bboxes'].tolist(),
                            info['other_keypoints'].tolist(),
                            info['other_keypoints_visible'].tolist()):
        iw = max(0, min(x2, box[2]) - max(x1, box[0]))
        ih = max(0, min(y2, box[3]) - max(y1, box[1]))
        inter = iw * ih
        union = area + (box[2] - box[0]) * (box[3] - box[1]) - inter
        if inter / union >= 0.1:
            others.append((kpts, v))
    probs = joint_type_probabilities(COCO_ERROR_TABLES, sum(vis),
                                     len(others)).tolist()
    out = []
    for j in range(len(gt)):
        if not vis[j]:
            out.append(gt[j])
            continue
        d = [
            math.sqrt(-2 * area * (2 * info['sigmas'][j])**2 * math.log(k))
            for k in (0.85, 0.5, 0.1)
        ]
        mirror = [gt[flip[j]]] if vis[flip[j]] and flip[j] != j else []
        swap = [kp[i] for kp, v in others for i in (j, flip[j]) if v[i]]
        anchors = [gt[j]] + mirror + swap
        rings = [(0, d[0], [gt[j]]), (d[0], d[1], [gt[j]]),
                 (0, d[1], mirror), (0, d[1], swap), (d[1], d[2], anchors)]
        valid = [
            _loop_candidates(kind, random.choice(centers), lo, hi, anchors,
                             d[1], num_candidates) if centers else []
            for kind, (lo, hi, centers) in enumerate(rings)
        ]
        weights = [p if v else 0. for p, v in zip(probs[j], valid)]
        kind = random.choices(range(5), weights)[0]
        out.append(random.choice(valid[kind]))
    return out


def over_all(fn, infos):
    """One pass of ``fn`` over every instance. Transforms add or replace
    keys and never write into the input arrays: a shallow copy is enough."""
    return lambda: [fn(dict(info)) for info in infos]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--data', default=osp.join(REPO, '..', 'shared', 'data', 'coco_mini'))
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument(
        '--config',
        default='posefix_res50_8xb9-240e_coco-256x192.py',
        help='config under configs/ whose train_pipeline is timed')
    args = parser.parse_args()
    init_default_scope('mmpose')
    dataset = DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root=args.data,
            ann_file='annotations/person_keypoints_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[]))
    infos = [dataset[i] for i in range(len(dataset))]
    np.random.seed(0)
    random.seed(0)
    # the training pipeline of the ablation model (256x192), as configured
    cfg = Config.fromfile(osp.join(REPO, 'configs', args.config))
    pipeline = Compose(cfg.train_pipeline)
    synth = next(t for t in pipeline.transforms
                 if isinstance(t, SynthesizePoseErrors))
    seconds = interleaved_medians(
        dict(
            authors=over_all(authors_synthesize, infos),
            ours=over_all(synth, infos),
            whole=over_all(pipeline, infos)), args.repeat)
    authors, ours, whole = (seconds[k] / len(infos) * 1e3
                            for k in ('authors', 'ours', 'whole'))
    print(f'instances: {len(infos)} coco_mini train persons')
    print(f"authors' algorithm (loops, 500 candidates): {authors:.3f} ms")
    print(f'SynthesizePoseErrors:                        {ours:.3f} ms')
    print(f'speed-up: {authors / ours:.1f}x (target >= 20x)')
    print(f'whole training pipeline per sample ({args.config}): '
          f'{whole:.3f} ms')
    print(f'synthesis share of the pipeline: {100 * ours / whole:.1f}% '
          '(target < 5%)')


if __name__ == '__main__':
    main()
