"""Test (and evaluate) a PoseFix (or any MMPose) model: MMPose's
tools/test.py, plus the environment fixes of posefix_mm applied before
MMEngine is imported."""
import argparse
import os
import os.path as osp
import sys

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from posefix_mm.apis import dump_json_atomic  # noqa: E402
from posefix_mm.utils import (CheckpointError, load_weights,  # noqa: E402
                              merge_cfg_options, missing_results_files)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint file (optional for configs that name their own, '
        'such as PoseRefiner configs)')
    parser.add_argument(
        '--work-dir', help='the directory to save evaluation results')
    parser.add_argument('--out', help='save the metrics to this file')
    parser.add_argument(
        '--dump', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--random-weights', action='store_true',
        help='test a model without CHECKPOINT (and whose config names '
        'none) with untrained weights (without this flag that is an error)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must be a .pkl file, got {args.dump}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = [*evaluators, dump_metric]
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


class SaveMetricHook(Hook):
    """Write the test metrics to a file."""

    def __init__(self, out_file: str):
        self.out_file = out_file

    def after_test_epoch(self, runner, metrics=None):
        if metrics is not None:
            dump_json_atomic(metrics, self.out_file)


def check_weights(cfg: Config, args: argparse.Namespace) -> None:
    """No silent random weights: without CHECKPOINT, a config must name its
    own (a PoseRefiner's ``refiner_checkpoint``; it warns itself of a
    missing pose model checkpoint), or --random-weights ask for them."""
    if args.checkpoint or args.random_weights:
        return
    model = cfg.model
    if model.get('type') == 'PoseRefiner' and model.get('refiner_checkpoint'):
        return
    print(f'error: no CHECKPOINT, and {args.config} names none: the model '
          'would be tested with random weights; pass CHECKPOINT (a '
          'PoseRefiner config: --cfg-options model.refiner_checkpoint=... '
          'model.pose_checkpoint=...), or --random-weights to test '
          'untrained weights on purpose', file=sys.stderr)
    raise SystemExit(2)


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    check_weights(cfg, args)
    # a results file the config tests on, missing: one line, exit code 2,
    # before any work
    for line in missing_results_files(cfg, ['test_dataloader']):
        print(f'error: {line}', file=sys.stderr)
        raise SystemExit(2)
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    try:
        if args.checkpoint:
            # MMEngine loads non-strictly, with warnings: another model's
            # checkpoint, or a file that is none, must stop the run
            load_weights(model, args.checkpoint, 'CHECKPOINT')
        else:
            # a config that names its own checkpoints (PoseRefiner) loads
            # them where MMEngine models load pretrained weights
            model.init_weights()
    except (CheckpointError, FileNotFoundError) as e:
        raise SystemExit(f'error: {e}')
    if args.out:
        runner.register_hook(SaveMetricHook(args.out), 'LOWEST')
    runner.test()


if __name__ == '__main__':
    main()
