"""Convert BlazePose's landmark network (MediaPipe, Apache-2.0) into
PyTorch weights for ``BlazePoseBackbone`` and its heatmap layer.

By default the ``mediapipe==0.10.21`` wheel is fetched from PyPI with
``pip download --no-deps`` into the output's folder (nothing is installed;
a wheel already there is reused) and ``pose_landmark_full.tflite`` is read
from it; ``--tflite`` or ``--wheel`` take a local file instead. The output
is written once: an existing file is kept unless ``--force``.

The default output is where the configs find it, in the user's folder:
``$POSEFIX_MM_HOME/pretrained/blazepose_landmark_full.pth``
(``POSEFIX_MM_HOME`` defaults to ``~/.cache/posefix_mm``), never the
repository or site-packages; ``make setup`` runs this, and after a pip
install ``mim run posefix_mm convert_blazepose`` does.

Usage:
    python tools/convert_blazepose.py [--out FILE]
        [--tflite FILE | --wheel FILE] [--force]
"""
import argparse
import os.path as osp
import sys
import zipfile


def default_out() -> str:
    """Where the configs look (``posefix_mm://pretrained/...``), without
    importing posefix_mm's models (``--help`` stays quick)."""
    from posefix_mm.utils.paths import BLAZEPOSE_WEIGHTS, resolve_path
    return resolve_path(BLAZEPOSE_WEIGHTS)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument(
        '--out', default=None,
        help='converted weights (default: where the configs find them, '
        '$POSEFIX_MM_HOME/pretrained/blazepose_landmark_full.pth, '
        'POSEFIX_MM_HOME defaulting to ~/.cache/posefix_mm)')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--tflite', help='a local pose_landmark_full.tflite')
    source.add_argument('--wheel', help='a local mediapipe 0.10.21 wheel')
    parser.add_argument('--force', action='store_true',
                        help='convert again over an existing --out')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.out = args.out or default_out()
    if osp.isfile(args.out) and not args.force:
        print(f'{args.out} exists (--force to convert again)')
        return
    source = args.tflite or args.wheel
    if source is not None and not osp.isfile(source):
        sys.exit(f'error: no file {source}')
    from posefix_mm.converters.blazepose_tflite import (
        TFLITE_MEMBER, download_wheel, read_tflite, save_converted)
    if source is None:
        source = download_wheel(osp.dirname(osp.abspath(args.out)))
    name = osp.basename(source)
    if name.endswith('.whl'):
        name += ':' + TFLITE_MEMBER
    try:
        meta = save_converted(read_tflite(source), args.out, name)['meta']
    except (ValueError, KeyError, zipfile.BadZipFile) as e:
        # not a zip, no landmark model in it, another file or another
        # build, or another TFLite model
        sys.exit(f'error: {source}: not BlazePose\'s landmark model of '
                 f'mediapipe 0.10.21 ({e}); nothing written')
    checked = 'not checked against LiteRT (not installed)' \
        if meta['litert_difference'] is None else \
        f'LiteRT heatmaps within {meta["litert_difference"]:.1g}'
    print(f'{args.out}: BlazePose landmark weights from {name} '
          f'(sha256 {meta["sha256"][:12]}..., as documented; {checked}; '
          f'{meta["license"]})')


if __name__ == '__main__':
    main()
