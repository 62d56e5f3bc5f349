"""Pipeline steps that carry the input pose (``input_keypoints``) along with
the image: MMPose's ``RandomFlip`` and ``TopdownAffine`` move only
``keypoints``, and ``PackPoseInputs`` does not know the input pose."""
import inspect

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.datasets.transforms import (PackPoseInputs, RandomFlip,
                                        TopdownAffine)
from mmpose.registry import TRANSFORMS
from mmpose.structures.keypoint import flip_keypoints
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix


@TRANSFORMS.register_module()
class KeepFullImage(BaseTransform):
    """Keep the loaded image under ``full_img`` (no copy), for a model that
    needs more than the crop: ``PoseRefiner`` refines each pose its pose
    model predicts in a crop of its own. Put it right after ``LoadImage``
    and add ``'full_img'`` to ``PackPoseInputs``' ``meta_keys``.

    Required Keys: img

    Added Keys: full_img
    """

    def transform(self, results: dict) -> dict:
        results['full_img'] = results['img']
        return results


@TRANSFORMS.register_module()
class RandomFlipWithInputPose(RandomFlip):
    """``RandomFlip`` that also flips the input pose, swapping mirror joints
    of ``input_keypoints``, ``input_keypoints_visible`` and
    ``synth_error_types``.

    Required Keys: as ``RandomFlip``, plus

        - input_keypoints (np.ndarray): (1, K, 2), image coordinates
        - input_keypoints_visible (np.ndarray): (1, K)
        - synth_error_types (np.ndarray): (1, K), optional

    Modified Keys: as ``RandomFlip``, plus the three above.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if not results['flip']:
            return results
        h, w = results.get('input_size', results['img_shape'])
        flip_indices = results['flip_indices']
        results['input_keypoints'], results['input_keypoints_visible'] = \
            flip_keypoints(
                results['input_keypoints'],
                results['input_keypoints_visible'],
                image_size=(w, h),
                flip_indices=flip_indices,
                direction=results['flip_direction'])
        if 'synth_error_types' in results:
            results['synth_error_types'] = \
                results['synth_error_types'][:, flip_indices]
        return results


@TRANSFORMS.register_module()
class TopdownAffineWithInputPose(TopdownAffine):
    """``TopdownAffine`` that also warps the input pose into the crop.

    Required Keys: as ``TopdownAffine``, plus

        - input_keypoints (np.ndarray): (1, K, 2), image coordinates

    Modified Keys: as ``TopdownAffine``, plus

        - input_keypoints: (1, K, 2), now in crop (input image) coordinates
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        rot = results['bbox_rotation'][0] if 'bbox_rotation' in results \
            else 0.
        get_matrix = get_udp_warp_matrix if self.use_udp else get_warp_matrix
        # the matrix TopdownAffine used, from what it left in results
        warp_mat = get_matrix(
            results['input_center'],
            results['input_scale'],
            rot,
            output_size=results['input_size'])
        results['input_keypoints'] = cv2.transform(
            results['input_keypoints'].astype(np.float32),
            warp_mat).astype(np.float32)
        return results


@TRANSFORMS.register_module()
class PackPoseFixInputs(PackPoseInputs):
    """``PackPoseInputs`` that also packs the input pose into
    ``data_sample.gt_instances``: ``input_keypoints`` (N, K, 2) in crop
    coordinates, ``input_keypoints_visible`` (N, K), the input's joint
    scores ``input_keypoint_scores`` (N, K) when it has them (a results
    file, a 2D model) and, when synthesized, ``synth_error_types`` (N, K);
    and into the metainfo the keypoint
    ``sigmas`` and ``bbox_padding``, how much larger the crop is than the
    person box (the smaller of its width and height ratios:
    ``GetBBoxCenterScale``'s padding, times ``RandomBBoxTransform``'s scale
    in training). The head measures keypoint similarity with them: the
    person's area in the crop is the crop's over ``bbox_padding`` squared.

    Required Keys: as ``PackPoseInputs``, plus

        - bbox (np.ndarray): (1, 4) the person box, xyxy
        - input_scale (np.ndarray): (2, ) the crop's size in the image
        - input_keypoints (np.ndarray): (1, K, 2)
        - input_keypoints_visible (np.ndarray): (1, K)
        - sigmas (np.ndarray): (K, )

    Added Keys: bbox_padding (float)
    """

    def __init__(self, meta_keys=None, **kwargs):
        if meta_keys is None:
            default = inspect.signature(
                PackPoseInputs.__init__).parameters['meta_keys'].default
            meta_keys = (*default, 'sigmas', 'bbox_padding')
        super().__init__(meta_keys=meta_keys, **kwargs)

    instance_mapping_table = dict(
        PackPoseInputs.instance_mapping_table,
        input_keypoints='input_keypoints',
        input_keypoints_visible='input_keypoints_visible',
        input_keypoint_scores='input_keypoint_scores',
        synth_error_types='synth_error_types')

    def transform(self, results: dict) -> dict:
        box_size = results['bbox'][0, 2:] - results['bbox'][0, :2]
        with np.errstate(divide='ignore'):
            ratios = np.asarray(results['input_scale'], np.float64) / box_size
        ratios = ratios[np.isfinite(ratios) & (box_size > 0)]
        if not len(ratios):
            raise ValueError(f'PackPoseFixInputs: the person box '
                             f'{results["bbox"][0].tolist()} has no extent')
        results['bbox_padding'] = float(ratios.min())
        scores = results.get('input_keypoint_scores')
        if scores is not None:
            # one row per instance, as the other instance fields
            results['input_keypoint_scores'] = np.asarray(
                scores, np.float32).reshape(1, -1)
        return super().transform(results)
