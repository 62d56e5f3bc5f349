"""Train a PoseFix (or any MMPose) model: MMPose's tools/train.py, plus the
environment fixes of posefix_mm applied before MMEngine is imported."""
import argparse
import os
import os.path as osp
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from posefix_mm.utils import (CheckpointError,  # noqa: E402
                              merge_cfg_options, missing_results_files,
                              read_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a pose model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by actual / base batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs '
        '(e.g. train_cfg.max_epochs=2 "data_root=../shared/data/coco_mini/")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command-line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    # work_dir priority: command line > config > config file name
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp does not support optim_wrapper type {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


def main():
    args = parse_args()
    if args.resume not in (None, 'auto'):
        # a file that is no checkpoint: our message, before any work
        try:
            read_checkpoint(args.resume, '--resume')
        except (CheckpointError, FileNotFoundError) as e:
            raise SystemExit(f'error: {e}')
    cfg = merge_args(Config.fromfile(args.config), args)
    # a results file the config validates on, missing: one line (what it
    # is, the option that gives it), exit code 2, before any work
    for line in missing_results_files(cfg, ['val_dataloader']):
        print(f'error: {line}', file=sys.stderr)
        raise SystemExit(2)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
