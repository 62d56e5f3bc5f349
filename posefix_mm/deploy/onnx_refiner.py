"""Refinement with onnxruntime: a refiner exported by
:func:`~.onnx_export.export_onnx` (its inputs and outputs are described
there) in the place of the torch model."""
import json
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.structures import InstanceData

from posefix_mm.models.pose_estimators.posefix_estimator import crop_to_image
from .onnx_export import METADATA_KEY, SCORES_INPUT


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
    """A refiner exported by :func:`~.onnx_export.export_onnx`, run by
    onnxruntime in the place of the torch model in
    :func:`~posefix_mm.engine.refine_samples` (its ``data_preprocessor``
    and ``predict``): the same samples in, the same predictions out.

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
        kept = outputs.get('kept')
        if kept is None:
            # an old file: the present joints returned at their input point
            # (the graph's own mask holds present joints only)
            kept = (np.abs(outputs['refined_keypoints'] -
                           feeds['keypoints']).max(-1) < 1e-3) & (
                               feeds['visible'] > 0)
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
