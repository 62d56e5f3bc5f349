"""Run an MMPose 2D model and refine its poses with PoseFix: MMPose's
``demo/inferencer_demo.py`` with ``--refiner`` / ``--refiner-weights``.

Usage:
    python tools/refine_inferencer.py INPUTS --pose2d CONFIG
        [--pose2d-weights PTH] --refiner CONFIG [--refiner-weights PTH]
        [--det-model CONFIG --det-weights PTH] [--vis-out-dir DIR]
        [--pred-out-dir DIR] [--show] ...
    mim run posefix_mm refine_inferencer INPUTS ...

INPUTS: an image, a folder of images, a video, or 'webcam'. Every config
and checkpoint is a local file; --pose2d may also name one of the configs
MMPose ships in its package (td-hm_hrnet-w32_8xb64-210e_coco-256x192).
Model aliases do not work: nothing is downloaded (--show-alias lists them
and the config each stands for).
--pred-out-dir gets the refined poses (one JSON per image, one per video)
with the 2D model's next to them; --vis-out-dir the pictures (a video for a
video): refined poses, arrows from the 2D model's joints that moved.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    alias_only = '--show-alias' in (sys.argv[1:] if argv is None else argv)
    parser.add_argument(
        'inputs', nargs='?' if alias_only else None,
        help='an image, a folder of images, a video or "webcam"')
    parser.add_argument(
        '--pose2d', required=not alias_only,
        help="2D model config: a file, or the name of a config of MMPose's "
        'package')
    parser.add_argument('--pose2d-weights', help='2D model checkpoint')
    parser.add_argument('--refiner', required=not alias_only,
                        help='PoseFix config')
    parser.add_argument('--refiner-weights', help='PoseFix checkpoint')
    parser.add_argument(
        '--det-model',
        default='whole_image',
        help="mmdet config of the person detector; 'whole_image' (default): "
        'one box per image')
    parser.add_argument('--det-weights', help='detector checkpoint')
    parser.add_argument(
        '--det-cat-ids', type=int, nargs='+', default=0,
        help='person category ids of the detector')
    parser.add_argument('--scope', default='mmpose')
    parser.add_argument('--device', help='cpu, cuda, ... (MMPose default)')
    # MMPose's demo flags of 3D lifting: accepted so that its command lines
    # are refused with a reason, not with "unrecognized arguments"
    for flag in ('--disable-norm-pose-2d', '--disable-rebase-keypoint'):
        parser.add_argument(flag, action='store_true',
                            help='MMPose 3D lifting only: refused here')
    parser.add_argument('--num-instances', type=int,
                        help='MMPose 3D lifting only: refused here')
    parser.add_argument(
        '--random-weights', action='store_true',
        help='run a model without --pose2d-weights / --refiner-weights '
        'with untrained weights (without this flag that is an error)')
    parser.add_argument('--no-flip', action='store_true',
                        help='no PoseFix flip test')
    parser.add_argument(
        '--absent-score-thr', type=float,
        help='2D joints scored at or below this are absent (PoseFix places '
        'them from the image); default: only joints at (0, 0)')
    parser.add_argument('--show', action='store_true',
                        help='show the pictures in a window')
    parser.add_argument('--draw-bbox', action='store_true')
    parser.add_argument('--bbox-thr', type=float, default=0.3)
    parser.add_argument('--nms-thr', type=float, default=0.3)
    parser.add_argument('--kpt-thr', type=float, default=0.3)
    parser.add_argument('--radius', type=int, default=3)
    parser.add_argument('--thickness', type=int, default=1)
    parser.add_argument('--black-background', action='store_true')
    parser.add_argument('--vis-out-dir', default='',
                        help='folder for the pictures (a video for a video)')
    parser.add_argument('--show-progress', action='store_true',
                        help='a progress bar over the inputs')
    parser.add_argument('--draw-heatmap', action='store_true',
                        help="draw the 2D model's heatmaps below the picture")
    parser.add_argument('--skeleton-style', default='mmpose',
                        choices=['mmpose', 'openpose'])
    parser.add_argument('--pose-based-nms', action='store_true',
                        help="the 2D model's pose-based NMS (MMPose's)")
    parser.add_argument('--use-oks-tracking', action='store_true',
                        help='track persons across frames by OKS (default: '
                        'box IoU)')
    parser.add_argument('--tracking-thr', type=float, default=0.3,
                        help='similarity at which a person keeps its track')
    parser.add_argument('--show-alias', action='store_true',
                        help="list MMPose's model aliases and the config "
                        'each stands for, then exit')
    parser.add_argument('--pred-out-dir', default='',
                        help='folder for the refined predictions (JSON)')
    return parser.parse_args(argv)


LIFTING_FLAGS = ('disable_norm_pose_2d', 'disable_rebase_keypoint',
                 'num_instances')


def main(argv=None) -> int:
    args = parse_args(argv)
    lifting = [f'--{f.replace("_", "-")}' for f in LIFTING_FLAGS
               if getattr(args, f) not in (None, False)]
    if lifting:
        print(f'error: {", ".join(lifting)}: options of MMPose\'s 3D '
              'lifting (inferencer_demo.py --pose3d); PoseFix refines 2D '
              'poses: leave them out', file=sys.stderr)
        return 2
    # MMPose and posefix_mm only now: --help stays quick
    from posefix_mm.utils.compat import apply as apply_compat
    apply_compat()
    from mmengine.registry import init_default_scope

    from posefix_mm.apis import RefineInferencer
    from posefix_mm.apis.inferencers.utils import MissingWeights
    from posefix_mm.utils import CheckpointError
    if args.show_alias:
        from posefix_mm.apis.inferencers.utils import model_aliases
        aliases = model_aliases()
        width = max(len(a) for a in aliases)
        print(f'{"alias":{width}}  config (--pose2d NAME, with local '
              '--pose2d-weights)')
        for alias, name in sorted(aliases.items()):
            print(f'{alias:{width}}  {name}')
        return 0
    init_default_scope(args.scope)
    try:
        inferencer = RefineInferencer(
            args.pose2d,
            args.pose2d_weights,
            refiner=args.refiner,
            refiner_weights=args.refiner_weights,
            det_model=args.det_model,
            det_weights=args.det_weights,
            det_cat_ids=args.det_cat_ids,
            device=args.device,
            scope=args.scope,
            show_progress=args.show_progress,
            flip=not args.no_flip,
            absent_score_thr=args.absent_score_thr,
            random_weights=args.random_weights)
        results = inferencer(
            args.inputs,
            show=args.show,
            draw_bbox=args.draw_bbox,
            bbox_thr=args.bbox_thr,
            nms_thr=args.nms_thr,
            kpt_thr=args.kpt_thr,
            radius=args.radius,
            thickness=args.thickness,
            black_background=args.black_background,
            vis_out_dir=args.vis_out_dir,
            pred_out_dir=args.pred_out_dir,
            draw_heatmap=args.draw_heatmap,
            skeleton_style=args.skeleton_style,
            pose_based_nms=args.pose_based_nms,
            use_oks_tracking=args.use_oks_tracking,
            tracking_thr=args.tracking_thr)
        count = sum(1 for _ in results)
    except MissingWeights as e:  # before any model is built: exit code 2
        print(f'error: {e}', file=sys.stderr)
        raise SystemExit(2)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}')
    print(f'refined the poses of {count} images or frames'
          + (f'; predictions -> {args.pred_out_dir}'
             if args.pred_out_dir else '')
          + (f'; pictures -> {args.vis_out_dir}' if args.vis_out_dir else ''))
    if inferencer.skipped_images:
        # named in the inferencer's warning above
        print(f'skipped {len(inferencer.skipped_images)} unreadable images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
