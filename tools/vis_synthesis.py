"""Draw real training persons: ground truth | synthesized input pose, each
input joint coloured by its error type (PoseFix figures 3 and 4).

Usage:
    python tools/vis_synthesis.py [--data ../shared/data/coco_mini]
        [--out work_dirs/vis_synthesis.png] [--num 8] [--seed 0]
"""
import argparse
import os
import os.path as osp

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import set_random_seed  # noqa: E402
from mmpose.registry import DATASETS, TRANSFORMS  # noqa: E402

from posefix_mm.visualization.synthesis_figure import \
    synthesis_figure  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--data',
        default=osp.join('..', 'shared', 'data', 'coco_mini'),
        help='COCO-style folder with annotations/ and train2017/')
    parser.add_argument('--out', default='work_dirs/vis_synthesis.png')
    parser.add_argument('--num', type=int, default=8, help='persons to draw')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--draws',
        type=int,
        default=10,
        help='draws per person; the one with most error types is shown')
    return parser.parse_args()


def main():
    args = parse_args()
    init_default_scope('mmpose')
    set_random_seed(args.seed)
    dataset = DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root=args.data,
            ann_file='annotations/person_keypoints_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[]))
    synth = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))
    fig = synthesis_figure(dataset, synth, args.num, args.draws)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
