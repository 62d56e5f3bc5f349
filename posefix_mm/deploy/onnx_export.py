"""PoseFix as an ONNX graph: the export (refinement with onnxruntime:
:mod:`.onnx_refiner`).

The graph takes what PoseFix's test pipeline makes of a person and returns
the refined pose:

- ``crop`` (B, 3, H, W) uint8: the person's crop, BGR, as
  ``PackPoseFixInputs`` packs it;
- ``keypoints`` (B, K, 2) float32: the input pose in crop pixels;
- ``visible`` (B, K) float32: > 0 for present input joints;
- ``bbox_padding`` (B, ) float32: crop / box, packed by ``PackPoseFixInputs``
  (the decision and the gate measure keypoint similarity in the box area);
- ``scores`` (B, K) float32, only for a decision calibrated with the input's
  joint scores (``test_cfg.decision_model``): the input's joint scores;

and gives ``refined_keypoints`` (B, K, 2) in crop pixels, ``peaks`` (B, K)
(each joint's softmax peak), ``kept`` (B, K) (1 for the joints kept at
their input point) and, for a model with a per-joint decision,
``refine_probs`` (B, K). Inside: the data preprocessor's normalisation, the
input pose as Gaussian maps (for a ResNet, the stem's response to them,
computed from their separable form), the network, the input prior,
soft-argmax, the flip test, the decision and the gate, all as the torch
model computes them (:meth:`PoseFixHead.predict_tensors`). Outside: reading
the image, the crop (an affine warp, ``TopdownAffineWithInputPose``) and
mapping the refined pose back to the image (``crop_to_image``).
"""
import json
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from posefix_mm.models.utils import flip_input_pose
from posefix_mm.version import __version__
from posefix_mm.utils.io import write_atomic

INPUT_NAMES = ('crop', 'keypoints', 'visible', 'bbox_padding')
#: the input of a graph whose decision reads the input's joint scores
SCORES_INPUT = 'scores'
#: the metadata key of the export settings in the ONNX file
METADATA_KEY = 'posefix_mm'


class RefinerGraph(nn.Module):
    """A PoseFix model (``PoseFixEstimator``, its ``test_cfg`` and
    ``dataset_meta``) as one function of tensors: crop and input pose in,
    refined pose out (see the module's docstring). What
    :func:`export_onnx` traces; it computes what the model's ``predict``
    computes."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        preprocessor = model.data_preprocessor
        self.bgr_to_rgb = bool(preprocessor._channel_conversion)
        normalise = preprocessor._enable_normalize
        self.register_buffer(
            'mean', preprocessor.mean.float() if normalise else torch.zeros(
                (3, 1, 1)))
        self.register_buffer(
            'std', preprocessor.std.float() if normalise else torch.ones(
                (3, 1, 1)))
        self.register_buffer(
            'sigmas',
            torch.as_tensor(model.dataset_meta['sigmas'], dtype=torch.float))
        self.test_cfg = dict(model.test_cfg or {})
        self.flip_indices = [
            int(i) for i in model.dataset_meta['flip_indices']
        ]
        self.register_buffer(
            'stride', torch.as_tensor(model.head.decoder.stride,
                                      dtype=torch.float))
        decision = model.head.decision_model(self.test_cfg)
        self.uses_scores = decision is not None and decision.uses_scores
        self.has_decision = model.head.decision is not None or \
            decision is not None

    @property
    def input_names(self) -> tuple:
        return INPUT_NAMES + ((SCORES_INPUT, ) if self.uses_scores else ())

    @property
    def output_names(self) -> tuple:
        names = ('refined_keypoints', 'peaks', 'kept')
        if self.has_decision:
            names += ('refine_probs', )
        return names

    def forward(self,
                crop: Tensor,
                keypoints: Tensor,
                visible: Tensor,
                bbox_padding: Tensor,
                scores: Optional[Tensor] = None) -> tuple:
        x = crop.float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        estimator, head = self.model, self.model.head
        input_pose = (keypoints, visible)
        feats = estimator.pose_features(x, *input_pose)
        flipped = None
        if self.test_cfg.get('flip_test', False):
            flipped = estimator.pose_features(
                x.flip(-1),
                *flip_input_pose(*input_pose, self.flip_indices, x.shape[-1]))
        out = head.predict_tensors(feats, input_pose,
                                   head.person_area(bbox_padding),
                                   self.sigmas, self.test_cfg, flipped,
                                   self.flip_indices, scores)
        outputs = (out.coords * self.stride, out.peaks, out.kept.float())
        if out.refine_probs is not None:
            outputs += (out.refine_probs, )
        return outputs

    def settings(self) -> dict:
        """What the graph holds beyond its weights, stored in the file
        (:func:`read_settings`) and checked against the config it runs
        with."""
        decoder = self.model.head.decoder
        return dict(
            posefix_mm=__version__,
            input_size=list(decoder.input_size),
            num_keypoints=int(self.model.head.out_channels),
            flip_test=bool(self.test_cfg.get('flip_test', False)),
            decision_thr=self.test_cfg.get('decision_thr', 0.5)
            if self.has_decision else None,
            decision_model=self.test_cfg.get('decision_model'),
            gate=self.test_cfg.get('gate') or None,
            flip_indices=self.flip_indices,
            sigmas=[float(s) for s in self.sigmas])

    def example_inputs(self, batch_size: int = 2) -> tuple:
        """Inputs of the graph's shapes and types (a plausible pose)."""
        w, h = self.model.head.decoder.input_size
        k = self.model.head.out_channels
        generator = torch.Generator().manual_seed(0)
        crop = torch.randint(
            0, 256, (batch_size, 3, h, w), dtype=torch.uint8,
            generator=generator)
        keypoints = torch.rand((batch_size, k, 2), generator=generator) * \
            torch.tensor([w - 1., h - 1.])
        visible = torch.ones((batch_size, k))
        visible[:, :2] = 0  # absent joints too
        inputs = (crop, keypoints, visible, torch.full((batch_size, ), 1.25))
        if self.uses_scores:
            inputs += (torch.rand((batch_size, k), generator=generator), )
        return inputs


def export_onnx(model: nn.Module, path: str, opset: int = 18) -> dict:
    """Export a PoseFix model (built by :func:`init_refiner`: eval mode,
    weights loaded, ``test_cfg`` final) to ``path``, any batch size; the
    file is written completely or not at all.

    Returns:
        dict: the settings stored in the file (see :func:`read_settings`).
    """
    import onnx
    graph = RefinerGraph(model).eval()
    batch = torch.export.Dim('batch', min=1)
    dynamic_shapes = dict(
        crop={0: batch},
        keypoints={0: batch},
        visible={0: batch},
        bbox_padding={0: batch})
    if graph.uses_scores:
        dynamic_shapes[SCORES_INPUT] = {0: batch}
    with torch.no_grad():
        # torch.export first: it fails loudly where the graph would not
        # hold any batch size (torch.onnx.export falls back to fixed shapes)
        exported = torch.export.export(
            graph, graph.example_inputs(), dynamic_shapes=dynamic_shapes)
        program = torch.onnx.export(
            exported,
            input_names=list(graph.input_names),
            output_names=list(graph.output_names),
            opset_version=opset,
            dynamo=True,
            verbose=False)
    proto = program.model_proto
    settings = graph.settings()
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(settings)
    onnx.checker.check_model(proto)
    write_atomic(path, proto.SerializeToString())
    return settings


def check_against_torch(model, path: str) -> float:
    """The largest difference (crop pixels) between the refined keypoints
    of onnxruntime running ``path`` and of the torch model, on a batch of
    random crops and poses."""
    from .onnx_refiner import import_onnxruntime
    ort = import_onnxruntime()
    graph = RefinerGraph(model).eval()
    inputs = graph.example_inputs(batch_size=3)
    with torch.no_grad():
        expected = graph(*inputs)[0].numpy()
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(['refined_keypoints'],
                      {n: t.numpy()
                       for n, t in zip(graph.input_names, inputs)})[0]
    return float(np.abs(got - expected).max())
