"""Export a PoseFix refiner to ONNX: crop + input pose -> refined pose.

Usage:
    python tools/export_onnx.py CONFIG CHECKPOINT --out refiner.onnx
        [--no-flip] [--opset 18] [--cfg-options KEY=VALUE ...]

The graph holds the normalisation, the input pose as heatmaps (for a
ResNet, the stem's response to them from their separable form), the
network, soft-argmax, the flip test (unless --no-flip), and the per-joint
decision and gate of the config's test_cfg (see
posefix_mm/deploy/onnx_export.py for its inputs and outputs); reading the
image and cropping stay outside, in PoseFix's test pipeline. Any batch
size. After the export the file is checked: onnxruntime runs it on a batch
and its refined keypoints are compared with the torch model's (the largest
difference in crop pixels is printed; above 0.1 px is an error and nothing
is written). Run it with:
    python tools/refine.py CONFIG --backend onnxruntime --onnx refiner.onnx
        --input results.json --img-dir DIR --out refined.json
"""
import argparse
import os
import os.path as osp
import tempfile

from posefix_mm.utils.compat import apply as apply_compat

apply_compat()

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from posefix_mm.apis import init_refiner  # noqa: E402
from posefix_mm.deploy import (  # noqa: E402
    check_against_torch, export_onnx, import_onnxruntime)
from posefix_mm.utils import CheckpointError, merge_cfg_options  # noqa: E402

#: the largest difference to the torch model allowed, crop pixels
TOLERANCE_PX = 0.1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('config', help='PoseFix config')
    parser.add_argument('checkpoint', help='PoseFix checkpoint (local)')
    parser.add_argument('--out', required=True, help='the ONNX file')
    parser.add_argument(
        '--no-flip', action='store_true', help='no flip test in the graph')
    parser.add_argument(
        '--opset', type=int, default=18, help='ONNX opset (>= 18)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, e.g. '
        'model.test_cfg.decision_thr=0.6 (held in the graph)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    init_default_scope('mmpose')
    for path, what in ((args.config, 'CONFIG'), (args.checkpoint,
                                                 'CHECKPOINT')):
        if not osp.isfile(path):
            raise SystemExit(f'error: {what}: no file {path}')
    if osp.isdir(args.out):
        raise SystemExit(f'error: --out: {args.out} is a folder')
    import_onnxruntime()  # before the work: the check needs it
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    try:
        model = init_refiner(cfg, args.checkpoint, 'cpu', not args.no_flip)
    except CheckpointError as e:
        raise SystemExit(f'error: {e}')
    model.eval()
    folder = osp.dirname(osp.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        staged = osp.join(tmp, osp.basename(args.out))
        print('exporting (torch.export, then ONNX) ...', flush=True)
        settings = export_onnx(model, staged, args.opset)
        diff = check_against_torch(model, staged)
        if diff > TOLERANCE_PX:
            raise SystemExit(
                f'error: onnxruntime differs from torch by {diff:.4f} px '
                f'(> {TOLERANCE_PX}); nothing written')
        os.replace(staged, args.out)
    w, h = settings['input_size']
    print(f'{args.out}: crop (B, 3, {h}, {w}) uint8 BGR + input pose '
          f'(B, {settings["num_keypoints"]}, 2) -> refined pose; flip test '
          f'{"on" if settings["flip_test"] else "off"}, decision_thr '
          f'{settings["decision_thr"]}, gate {settings["gate"]}; '
          f'onnxruntime vs torch: {diff:.5f} px at most')
    return diff


if __name__ == '__main__':
    main()
