"""BlazePose's landmark network (MediaPipe ``pose_landmark_full.tflite``,
Apache-2.0) up to the features of its landmark heatmap, as an MMPose
backbone whose stem also takes the input pose."""
import logging
from typing import Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from posefix_mm.utils.checkpoint import read_checkpoint
from posefix_mm.utils.paths import pretrained_file

# BlazePose landmark of each COCO keypoint (nose, eyes, ears, shoulders,
# elbows, wrists, hips, knees, ankles)
BLAZEPOSE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26,
                     27, 28)

# (expanded channels or None, kernel, stride, out channels) of each inverted
# residual block after the stem; a block adds its input when the stride is 1
# and the channels stay.
BLOCKS = ((None, 3, 1, 16), (64, 3, 2, 24), (144, 3, 1, 24), (144, 5, 2, 32),
          (192, 5, 1, 32), (192, 3, 2, 64), (384, 3, 1, 64), (384, 3, 1, 64),
          (384, 5, 1, 88), (528, 5, 1, 88), (528, 5, 1, 88),
          (528, 5, 2, 144), (864, 5, 1, 144), (864, 5, 1, 144),
          (864, 5, 1, 144))
# the blocks whose outputs feed the decoder at strides 4, 8 and 16
TAPS = (2, 4, 10)
DECODER_CHANNELS = 48


def conv(in_channels: int,
         out_channels: int,
         kernel: int = 1,
         stride: int = 1,
         depthwise: bool = False,
         relu6: bool = True) -> nn.Sequential:
    """A convolution with a bias (BlazePose's BN is folded into it),
    symmetric padding (TFLite's SAME for stride 1; the explicit PAD before
    each stride-2 layer), then ReLU6 or nothing."""
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                  groups=in_channels if depthwise else 1)
    ]
    if relu6:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion (ReLU6), depthwise kxk (ReLU6), linear 1x1 projection,
    plus the input where the shapes allow."""

    def __init__(self, in_channels: int, expanded: Optional[int], kernel: int,
                 stride: int, out_channels: int):
        super().__init__()
        mid = expanded or in_channels
        self.expand = conv(in_channels, mid) if expanded else nn.Identity()
        self.depthwise = conv(mid, mid, kernel, stride, depthwise=True)
        self.project = conv(mid, out_channels, relu6=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def lateral(in_channels: int) -> nn.Sequential:
    """A decoder input: depthwise 3x3 and 1x1 to 48 channels, both ReLU6."""
    return nn.Sequential(
        conv(in_channels, in_channels, 3, depthwise=True),
        conv(in_channels, DECODER_CHANNELS))


@MODELS.register_module()
class BlazePoseBackbone(BaseModule):
    """The path of BlazePose's landmark network to its heatmap: a
    MobileNetV2-like encoder to stride 32, then three bilinear 2x
    upsamplings, each added to a lateral branch of the encoder, to 48
    channels at stride 4 (64x64 for the network's 256x256 input; any input
    whose sides are multiples of 32 works).

    The image channels expect RGB in [0, 1] (``mean=[0, 0, 0]``,
    ``std=[255, 255, 255]``, ``bgr_to_rgb=True``). Channels beyond the
    first three (PoseFix's input-pose maps) start at zero, so the
    pretrained image path is unchanged at the start of training.

    Args:
        in_channels (int): 3 + K.
        pretrained (str, optional): weights converted from the TFLite file
            by ``tools/convert_blazepose.py`` (3-channel stem): a local
            file, or ``posefix_mm://...`` in the user's folder
            (:mod:`posefix_mm.utils.paths`); loaded by :meth:`init_weights`.
            None: from scratch.
        init_cfg (dict, optional): MMEngine's initialisation config.

    Returns (forward): a 1-tuple with the (B, 48, H/4, W/4) features.
    """

    def __init__(self,
                 in_channels: int = 3,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if in_channels < 3:
            raise ValueError(f'in_channels must be >= 3 (RGB), got '
                             f'{in_channels}')
        self.in_channels = in_channels
        self.pretrained = pretrained
        self.stem = conv(in_channels, 24, 3, 2)
        blocks, channels = [], 24
        for expanded, kernel, stride, out in BLOCKS:
            blocks.append(
                InvertedResidual(channels, expanded, kernel, stride, out))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.laterals = nn.ModuleList(
            [lateral(BLOCKS[i][3]) for i in TAPS])
        last = BLOCKS[-1][0]
        self.top = nn.Sequential(
            conv(channels, last), conv(last, last, 3, depthwise=True),
            conv(last, last, 3, depthwise=True),
            conv(last, DECODER_CHANNELS))

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        taps = []
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS:
                taps.append(self.laterals[len(taps)](x))
        x = self.top(x)
        for tap in reversed(taps):
            x = nn.functional.interpolate(
                x, size=tap.shape[-2:], mode='bilinear',
                align_corners=False) + tap
        return (x, )

    def init_weights(self):
        super().init_weights()
        if self.pretrained is None:
            print_log('BlazePoseBackbone: pretrained=None: from scratch',
                      logger='current', level=logging.WARNING)
            return
        path = pretrained_file(self.pretrained,
                               'BlazePoseBackbone.pretrained')
        state = read_checkpoint(path, 'BlazePoseBackbone.pretrained')
        self.load_image_weights(state, path)
        print_log(f'BlazePoseBackbone: weights from {path} '
                  f'(image channels; {self.in_channels - 3} pose channels '
                  'zero)', logger='current')

    def load_image_weights(self, state: dict, source: str) -> None:
        """Load a converted 3-channel state dict (``heatmap.*`` ignored):
        the stem's first three input channels get its weights, the others
        zero.

        Raises:
            KeyError: keys missing or unexpected (not BlazePose's).
        """
        state = {
            k: v
            for k, v in state.get('state_dict', state).items()
            if not k.startswith('heatmap.')
        }
        key = 'stem.0.weight'
        if key not in state or state[key].shape[1] != 3:
            raise KeyError(f'{source}: no 3-channel {key} (not converted '
                           'from BlazePose?)')
        stem = torch.zeros_like(self.stem[0].weight)
        stem[:, :3] = state[key]
        state[key] = stem
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f'{source}: missing {missing}, unexpected '
                           f'{unexpected}')
