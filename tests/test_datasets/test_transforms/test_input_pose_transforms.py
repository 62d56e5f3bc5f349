"""The input pose follows the ground truth through flip and affine."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

from posefix_mm.utils.error_taxonomy import NO_GT


def _pipeline(flip_prob):
    return Compose([
        dict(type='SynthesizePoseErrors'),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlipWithInputPose', prob=flip_prob),
        dict(type='RandomBBoxTransform', rotate_prob=1.0, rotate_factor=45),
        dict(type='TopdownAffineWithInputPose', input_size=(192, 256)),
        dict(type='PackPoseFixInputs', pack_transformed=True),
    ])


@pytest.mark.parametrize('flip_prob', [0.0, 1.0])
def test_input_pose_moves_with_ground_truth(coco_mini_train, coco_mini,
                                            flip_prob):
    info = copy.deepcopy(coco_mini_train[3])
    info['img_path'] = osp.join(coco_mini, 'train2017',
                                osp.basename(info['img_path']))
    info = LoadImage()(info)
    np.random.seed(0)
    synth = TRANSFORMS.build(dict(type='SynthesizePoseErrors'))(
        copy.deepcopy(info))
    np.random.seed(0)
    packed = _pipeline(flip_prob)(copy.deepcopy(info))
    gt = packed['data_samples'].gt_instances
    flip = np.asarray(info['flip_indices']) if flip_prob else np.arange(17)

    # the same draws as the standalone transform, joints swapped by the flip
    np.testing.assert_array_equal(gt.synth_error_types[0],
                                  synth['synth_error_types'][0][flip])
    labelled = synth['synth_error_types'][0][flip] != NO_GT
    before = np.linalg.norm(
        synth['input_keypoints'][0] - synth['keypoints'][0], axis=1)[flip]
    after = np.linalg.norm(
        gt.input_keypoints[0] - gt.transformed_keypoints[0], axis=1)
    # a similarity transform scales every offset by one factor
    ratios = after[labelled & (before > 1)] / before[labelled & (before > 1)]
    assert len(ratios) >= 5
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-3)
    assert isinstance(packed['inputs'], torch.Tensor)
    assert gt.input_keypoints.shape == (1, 17, 2)
    assert gt.input_keypoints_visible.shape == (1, 17)
