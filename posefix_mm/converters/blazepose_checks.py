"""The converter's checks of itself: the file is the documented one, the
graph pads and upsamples as ``BlazePoseBackbone`` computes, and the
converted network computes what LiteRT's interpreter computes."""
import hashlib
from typing import Optional

import numpy as np
import torch
from torch import nn

from posefix_mm.models.backbones.blazepose import BlazePoseBackbone

MEDIAPIPE = 'mediapipe==0.10.21'
TFLITE_MEMBER = 'mediapipe/modules/pose_landmark/pose_landmark_full.tflite'
HEATMAP_LANDMARKS = 39
#: the sha256 of TFLITE_MEMBER in the mediapipe 0.10.21 wheels
#: (docs/pretrained.md)
TFLITE_SHA256 = \
    'e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f'
#: the largest difference of the converted heatmap logits to LiteRT's
#: (float32 accumulation in another order; the logits reach |70|)
LITERT_ATOL = 2e-3


def check_pad(paddings: np.ndarray, index: int) -> int:
    """The padding of a PAD op ((4, 2) NHWC paddings): the same on every
    side of H and W, none on the batch and the channels, as
    ``BlazePoseBackbone`` pads (its stride-2 convolutions pad
    ``kernel // 2`` symmetrically); returns it."""
    paddings = np.asarray(paddings)
    if paddings.shape != (4, 2) or paddings[[0, 3]].any() or \
            (paddings[1:3] != paddings[1, 0]).any():
        raise ValueError(f'op {index} (PAD): paddings {paddings.tolist()}, '
                         'not the symmetric H and W padding '
                         'BlazePoseBackbone computes')
    return int(paddings[1, 0])


def check_padding(same: bool, stride: int, stride_w: int,
                  pad: Optional[int], kernel: int, index: int) -> None:
    """A convolution after a PAD of ``pad``: VALID, stride 2, the PAD
    ``kernel // 2``; any other: SAME at stride 1 (symmetric
    ``kernel // 2``), or a 1x1."""
    if pad is not None:
        ok = not same and stride == 2 and pad == kernel // 2
    else:
        ok = stride == 1 and (same or kernel == 1)
    if not ok or stride_w != stride:
        raise ValueError(
            f'op {index} (convolution {kernel}x{kernel}, stride {stride}, '
            f'{"SAME" if same else "VALID"}, after a PAD of {pad}): not the '
            'padding BlazePoseBackbone computes')


def check_resize(align_corners: bool, half_pixel_centers: bool,
                 index: int) -> None:
    """RESIZE_BILINEAR with half-pixel centres, not aligned corners:
    ``interpolate(mode='bilinear', align_corners=False)``."""
    if align_corners or not half_pixel_centers:
        raise ValueError(
            f'op {index} (RESIZE_BILINEAR): align_corners='
            f'{bool(align_corners)}, half_pixel_centers='
            f'{bool(half_pixel_centers)}; BlazePoseBackbone upsamples with '
            'half-pixel centres (align_corners=False)')


def check_sha256(tflite_bytes: bytes, source: str) -> str:
    """The file's sha256, which must be the documented one
    (:data:`TFLITE_SHA256`): another file, or a wheel of another build, is
    an error that says so."""
    digest = hashlib.sha256(tflite_bytes).hexdigest()
    if digest != TFLITE_SHA256:
        raise ValueError(
            f'{source}: sha256 {digest[:12]}... is not the documented '
            f'{TFLITE_SHA256[:12]}... of {TFLITE_MEMBER} in {MEDIAPIPE} '
            '(docs/pretrained.md): another file or another build')
    return digest


def litert_difference(tflite_bytes: bytes, state: dict,
                      images: Optional[np.ndarray] = None
                      ) -> Optional[float]:
    """The largest difference between the heatmap logits of the converted
    network (``state``, :func:`convert`) and of LiteRT's interpreter
    running the TFLite file, on ``images`` ((N, 256, 256, 3) RGB in [0, 1];
    default one of random pixels, seed 0). None when LiteRT
    (``ai-edge-litert``) is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    if images is None:
        images = np.random.default_rng(0).random((1, 256, 256, 3),
                                                 np.float32)
    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    output = [o for o in interpreter.get_output_details()
              if o['shape'][-1] == HEATMAP_LANDMARKS][0]
    backbone = BlazePoseBackbone(in_channels=3).eval()
    backbone.load_image_weights(state, 'converted')
    heatmap = nn.Conv2d(48, HEATMAP_LANDMARKS, 1)
    heatmap.load_state_dict({
        'weight': state['heatmap.weight'],
        'bias': state['heatmap.bias']
    })
    largest = 0.
    for image in np.asarray(images, np.float32):
        interpreter.set_tensor(interpreter.get_input_details()[0]['index'],
                               image[None])
        interpreter.invoke()
        expected = interpreter.get_tensor(output['index'])[0].transpose(
            2, 0, 1)
        with torch.no_grad():
            got = heatmap(
                backbone(torch.from_numpy(image).permute(2, 0, 1)[None])[0]
            )[0].numpy()
        largest = max(largest, float(np.abs(got - expected).max()))
    return largest
