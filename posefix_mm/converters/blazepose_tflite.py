"""BlazePose's landmark weights, from the MediaPipe wheel on PyPI to a
PyTorch state dict of :class:`BlazePoseBackbone` plus its heatmap layer.

The wheel (``mediapipe==0.10.21``, Apache-2.0) ships
``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``; it is
fetched with ``pip download --no-deps`` (nothing is installed) and read
with the ``tflite`` package (the flatbuffer schema, pure Python).

The converter checks itself: the file's sha256 against the documented one
(:func:`check_sha256`), the graph's PAD and RESIZE_BILINEAR attributes
against what ``BlazePoseBackbone`` computes (:func:`heatmap_convs`), and,
where LiteRT is installed, the converted network's heatmaps against the
TFLite interpreter's (:func:`litert_difference`).
"""
import io
import os
import os.path as osp
import subprocess
import sys
import zipfile
from collections import defaultdict
from typing import Dict, List, NamedTuple

import numpy as np
import torch
from torch import nn

from posefix_mm.models.backbones.blazepose import BlazePoseBackbone
from posefix_mm.utils.io import write_atomic
from .blazepose_checks import (HEATMAP_LANDMARKS, LITERT_ATOL, MEDIAPIPE,
                               TFLITE_MEMBER, check_pad, check_padding,
                               check_resize, check_sha256, litert_difference)

LICENSE = ('Apache-2.0; MediaPipe BlazePose GHUM 3D (pose_landmark_full), '
           'Google, from the mediapipe 0.10.21 wheel on PyPI')


class TfliteConv(NamedTuple):
    """A (depthwise) convolution of the TFLite graph, torch layout."""
    weight: np.ndarray  # (out, in / groups, kh, kw)
    bias: np.ndarray
    stride: int
    depthwise: bool
    output_hw: tuple


def _constant(graph, model, producers: dict, index: int,
              as_type=np.float32) -> np.ndarray:
    """A constant tensor as ``as_type``, through its DEQUANTIZE (float16)."""
    import tflite
    if index in producers:  # the output of a DEQUANTIZE
        index = producers[index].Inputs(0)
    tensor = graph.Tensors(index)
    dtype = {
        tflite.TensorType.FLOAT16: np.float16,
        tflite.TensorType.FLOAT32: np.float32,
        tflite.TensorType.INT32: np.int32,
        tflite.TensorType.INT64: np.int64
    }[tensor.Type()]
    data = model.Buffers(tensor.Buffer()).DataAsNumpy()
    return np.frombuffer(data.tobytes(), dtype).astype(as_type).reshape(
        tensor.ShapeAsNumpy())


def heatmap_convs(tflite_bytes: bytes) -> List[TfliteConv]:
    """The convolutions that the landmark heatmap output depends on, in the
    graph's order (the last is the heatmap layer)."""
    import tflite
    model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    producers = {op.Outputs(0): op for op in ops}
    outputs = [graph.Outputs(i) for i in range(graph.OutputsLength())]
    heatmap = [
        i for i in outputs
        if graph.Tensors(i).ShapeAsNumpy()[-1] == HEATMAP_LANDMARKS
    ]
    if len(heatmap) != 1:
        raise ValueError('not BlazePose\'s landmark model: no single output '
                         f'of {HEATMAP_LANDMARKS} heatmaps')
    needed, todo = set(), [heatmap[0]]
    while todo:
        op = producers.get(todo.pop())
        if op is not None and id(op) not in needed:
            needed.add(id(op))
            todo.extend(op.Inputs(j) for j in range(op.InputsLength()))
    kinds = {
        tflite.BuiltinOperator.CONV_2D: False,
        tflite.BuiltinOperator.DEPTHWISE_CONV_2D: True
    }
    convs, pads = [], {}
    for index, op in enumerate(ops):
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if id(op) not in needed:
            continue
        if kind == tflite.BuiltinOperator.PAD:
            pads[op.Outputs(0)] = check_pad(
                _constant(graph, model, producers, op.Inputs(1), np.int32),
                index)
        elif kind == tflite.BuiltinOperator.RESIZE_BILINEAR:
            resize = tflite.ResizeBilinearOptions()
            resize.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            check_resize(resize.AlignCorners(), resize.HalfPixelCenters(),
                         index)
        if kind not in kinds:
            continue
        depthwise = kinds[kind]
        options = (tflite.DepthwiseConv2DOptions()
                   if depthwise else tflite.Conv2DOptions())
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        weight = _constant(graph, model, producers, op.Inputs(1))
        # TFLite: (out, kh, kw, in); depthwise (1, kh, kw, C)
        weight = weight.transpose(3, 0, 1, 2) if depthwise else \
            weight.transpose(0, 3, 1, 2)
        check_padding(options.Padding() == tflite.Padding.SAME,
                      options.StrideH(), options.StrideW(),
                      pads.get(op.Inputs(0)), weight.shape[-1], index)
        bias = _constant(graph, model, producers, op.Inputs(2))
        output_hw = tuple(graph.Tensors(op.Outputs(0)).ShapeAsNumpy()[1:3])
        convs.append(
            TfliteConv(weight, bias, options.StrideH(), depthwise, output_hw))
    return convs


def _signature(weight_shape, stride, depthwise, output_hw) -> tuple:
    return tuple(weight_shape), stride, depthwise, tuple(output_hw)


def _torch_convs(backbone: nn.Module, heatmap: nn.Conv2d) -> list:
    """(signature, conv) of every convolution in the order a 256x256
    forward runs them (the signature has the output size: TFLite pads
    before a stride-2 layer)."""
    order = []
    hooks = [
        m.register_forward_hook(
            lambda m, args, out: order.append((_signature(
                m.weight.shape, m.stride[0], m.groups > 1, out.shape[-2:]),
                                               m)))
        for m in [*backbone.modules(), heatmap]
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        heatmap(backbone(torch.zeros(1, 3, 256, 256))[0])
    for hook in hooks:
        hook.remove()
    return order


def convert(tflite_bytes: bytes) -> Dict[str, torch.Tensor]:
    """The state dict of a 3-channel :class:`BlazePoseBackbone` plus
    ``heatmap.weight`` / ``heatmap.bias`` (the 39-landmark 1x1 layer).

    Layers are matched by their shape, stride and output size; layers of the
    same signature (repeated blocks) in the order both graphs run them.
    """
    backbone = BlazePoseBackbone(in_channels=3)
    heatmap = nn.Conv2d(48, HEATMAP_LANDMARKS, 1)
    by_signature = defaultdict(list)
    for conv in heatmap_convs(tflite_bytes):
        by_signature[_signature(conv.weight.shape, conv.stride,
                                conv.depthwise, conv.output_hw)].append(conv)
    ours = _torch_convs(backbone, heatmap)
    if len(ours) != sum(map(len, by_signature.values())):
        raise ValueError('the TFLite graph does not have the layers of '
                         'BlazePoseBackbone')
    for signature, module in ours:
        if not by_signature.get(signature):
            raise ValueError(f'no TFLite layer for {signature}')
        conv = by_signature[signature].pop(0)
        module.weight.data.copy_(torch.from_numpy(conv.weight))
        module.bias.data.copy_(torch.from_numpy(conv.bias))
    state = dict(backbone.state_dict())
    state.update({f'heatmap.{k}': v for k, v in heatmap.state_dict().items()})
    return state


def read_tflite(path: str) -> bytes:
    """The landmark model's bytes from a ``.tflite`` file or the wheel; a
    wheel without it is an error that says so."""
    if path.endswith('.whl'):
        with zipfile.ZipFile(path) as wheel:
            if TFLITE_MEMBER not in wheel.namelist():
                raise ValueError(
                    f'{path}: a wheel without the landmark model '
                    f'{TFLITE_MEMBER} ({MEDIAPIPE} ships it)')
            return wheel.read(TFLITE_MEMBER)
    with open(path, 'rb') as f:
        return f.read()


def download_wheel(directory: str) -> str:
    """``pip download --no-deps mediapipe==0.10.21`` into ``directory``
    (once: a wheel there is reused); returns the wheel's path."""
    os.makedirs(directory, exist_ok=True)
    found = [f for f in os.listdir(directory)
             if f.startswith('mediapipe-0.10.21-') and f.endswith('.whl')]
    if not found:
        subprocess.run([
            sys.executable, '-m', 'pip', 'download', '--no-deps', '-q',
            '--disable-pip-version-check', MEDIAPIPE, '-d', directory
        ], check=True)
        found = [f for f in os.listdir(directory)
                 if f.startswith('mediapipe-0.10.21-')]
    return osp.join(directory, sorted(found)[0])


def save_converted(tflite_bytes: bytes, out: str, source: str) -> dict:
    """Check (:func:`check_sha256`; with LiteRT, :func:`litert_difference`
    within :data:`LITERT_ATOL`), convert and write ``out`` (atomically),
    with the source, its sha256, the license and the LiteRT difference
    (None: not checked) in ``meta``."""
    digest = check_sha256(tflite_bytes, source)
    state = convert(tflite_bytes)
    difference = litert_difference(tflite_bytes, state)
    if difference is not None and difference > LITERT_ATOL:
        raise ValueError(
            f'{source}: the converted heatmaps differ from LiteRT\'s by '
            f'{difference:.2g} (> {LITERT_ATOL}); nothing written')
    checkpoint = dict(
        state_dict=state,
        meta=dict(
            source=source,
            sha256=digest,
            license=LICENSE,
            litert_difference=difference))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_atomic(out, buffer.getvalue())
    return checkpoint
