"""PoseFix as an ONNX graph: the export, and refinement with onnxruntime.

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
input pose rendered as Gaussian maps, the network, the input prior,
soft-argmax, the flip test, the decision and the gate, all as the torch
model computes them (:meth:`PoseFixHead.predict_tensors`). Outside: reading
the image, the crop (an affine warp, ``TopdownAffineWithInputPose``) and
mapping the refined pose back to the image (:func:`crop_to_image`).
"""
import json
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from posefix_mm.models.pose_estimators.posefix_estimator import crop_to_image
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


def read_settings(session) -> dict:
    """The export settings an ONNX file holds (see
    :meth:`RefinerGraph.settings`)."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ValueError('not a posefix_mm refiner (no posefix_mm metadata; '
                         'export it with tools/export_onnx.py)')
    return json.loads(meta[METADATA_KEY])


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError(
            'the onnxruntime backend needs the onnxruntime package: `make '
            'setup` installs it (requirements/onnx.txt), or `pip install '
            'onnxruntime`') from e
    return onnxruntime


class OnnxRefiner:
    """A refiner exported by :func:`export_onnx`, run by onnxruntime, in
    the place of the torch model in
    :func:`~posefix_mm.apis.refine_samples` (its ``data_preprocessor`` and
    ``predict``): the same samples in, the same predictions out.

    Args:
        onnx_file (str): the exported refiner.
        dataset_meta (dict): the config's keypoint metainfo (sigmas, flip
            indices, drawing colours); must match the file's.
        device (str): ``'cpu'``, or ``'cuda'`` (onnxruntime-gpu).
        threads (int, optional): onnxruntime's intra-op threads; default
            torch's (``OMP_NUM_THREADS``), so both backends use the same
            cores.
    """

    def __init__(self,
                 onnx_file: str,
                 dataset_meta: dict,
                 device: str = 'cpu',
                 threads: Optional[int] = None):
        ort = import_onnxruntime()
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'--onnx: no file {onnx_file}')
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        provider = ('CUDAExecutionProvider'
                    if device.startswith('cuda') else 'CPUExecutionProvider')
        if provider not in ort.get_available_providers():
            raise RuntimeError(f'onnxruntime has no {provider} here '
                               f'({ort.get_available_providers()}); '
                               'onnxruntime-gpu runs on cuda')
        try:
            self.session = ort.InferenceSession(
                onnx_file, options, providers=[provider])
        except Exception as e:  # onnxruntime's own Fail/InvalidGraph
            raise ValueError(f'--onnx: {onnx_file} is not a loadable ONNX '
                             f'model ({e})') from e
        self.settings = read_settings(self.session)
        for field in ('flip_indices', 'sigmas'):
            ours = np.asarray(dataset_meta[field], np.float32)
            theirs = np.asarray(self.settings[field], np.float32)
            if ours.shape != theirs.shape or not np.allclose(ours, theirs):
                raise ValueError(
                    f'--onnx: the file was exported with other keypoints '
                    f'than the config: {field} {theirs.tolist()} vs '
                    f'{ours.tolist()}')
        self.dataset_meta = dataset_meta
        self.version = ort.__version__
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @staticmethod
    def data_preprocessor(data: dict, training: bool = False) -> dict:
        """The packed crops (a list, or a stacked tensor) as one array; the
        graph normalises them."""
        inputs = data['inputs']
        inputs = inputs.numpy() if isinstance(inputs, torch.Tensor) else \
            np.stack([np.asarray(i) for i in inputs])
        return dict(inputs=inputs, data_samples=data['data_samples'])

    def predict(self, inputs: np.ndarray, data_samples: list) -> list:
        """Refined poses in image coordinates, set on the samples as the
        torch model sets them (``pred_instances.keypoints``,
        ``keypoint_peaks``, ``keypoints_kept``, ``keypoint_refine_probs``).
        A file exported before ``kept`` was an output: the joints the graph
        returned at their input point (within 1e-3 crop pixels)."""
        w, h = self.settings['input_size']
        if inputs.shape[1:] != (3, h, w):
            raise ValueError(
                f'the pipeline makes {inputs.shape[1:]} crops, the ONNX '
                f'refiner takes (3, {h}, {w}): exported from another config')
        feeds = dict(
            crop=inputs,
            keypoints=np.stack([
                d.gt_instances.input_keypoints[0] for d in data_samples
            ]).astype(np.float32),
            visible=np.stack([
                d.gt_instances.input_keypoints_visible[0]
                for d in data_samples
            ]).astype(np.float32),
            bbox_padding=np.array(
                [d.metainfo['bbox_padding'] for d in data_samples],
                np.float32))
        if SCORES_INPUT in self.input_names:
            feeds[SCORES_INPUT] = np.stack([
                d.gt_instances.input_keypoint_scores[0] for d in data_samples
            ]).astype(np.float32)
        outputs = dict(
            zip(self.output_names,
                self.session.run(
                    self.output_names,
                    {k: v for k, v in feeds.items()
                     if k in self.input_names})))
        # absent joints are never kept: refine_samples masks them
        kept = outputs.get('kept')
        if kept is None:
            kept = np.abs(outputs['refined_keypoints'] -
                          feeds['keypoints']).max(-1) < 1e-3
        kept = np.asarray(kept) > 0
        for i, sample in enumerate(data_samples):
            pred = InstanceData(
                keypoints=crop_to_image(outputs['refined_keypoints'][i:i + 1],
                                        sample.metainfo),
                keypoint_scores=outputs['peaks'][i:i + 1],
                keypoint_peaks=outputs['peaks'][i:i + 1],
                keypoints_kept=kept[i:i + 1])
            if 'refine_probs' in outputs:
                pred.keypoint_refine_probs = outputs['refine_probs'][i:i + 1]
            sample.pred_instances = pred
        return data_samples
