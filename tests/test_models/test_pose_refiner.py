"""PoseRefiner: a pose model and PoseFix evaluated in one tools/test.py run."""
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel, BaseModule
from mmengine.structures import InstanceData
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from ..conftest import REPO_ROOT, save_model

CONFIG = osp.join(REPO_ROOT, 'configs', 'refine',
                  'posefix-refine_td-hm-res18_coco-mini-128x96.py')


#: a refiner with the input prior: initialised, it returns its input
IDENTITY_REFINER = osp.join(REPO_ROOT, 'configs',
                            'posefix_r18_coco-mini-lspet-128x96.py')


@MODELS.register_module(force=True)
class OraclePoseModel(BaseModel):
    """A pose model that predicts each sample's ground-truth pose (joint
    scores 0.9): its AP is known."""

    def forward(self, inputs, data_samples=None, mode='predict'):
        for sample in data_samples:
            gt = sample.gt_instances
            keypoints = np.asarray(gt.keypoints, np.float32)
            sample.pred_instances = InstanceData(
                keypoints=keypoints,
                keypoint_scores=np.full(keypoints.shape[:2], 0.9, np.float32),
                bboxes=np.asarray(gt.bboxes, np.float32),
                bbox_scores=np.ones(len(keypoints), np.float32))
        return data_samples


def test_base_and_refined_in_one_run(tmp_path, coco_mini, monkeypatch):
    """tools/test.py with PoseRefiner on all of coco_mini val: the ground
    truth as the pose model, and a refiner that returns its input (input
    prior, zero last layer): both AP 1, every joint good."""
    config = tmp_path / 'oracle_refine.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\n'
                      "model = dict(pose_model=dict(_delete_=True, "
                      "type='OraclePoseModel'))\n")
    refiner = save_model(IDENTITY_REFINER, tmp_path / 'refiner.pth')
    ann = f'{coco_mini}/annotations/person_keypoints_val2017.json'
    metrics = tmp_path / 'metrics.json'
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', [
        'test.py', str(config), '--work-dir',
        str(tmp_path), '--out',
        str(metrics), '--cfg-options', f'model.refiner={IDENTITY_REFINER}',
        f'model.refiner_checkpoint={refiner}',
        'model.refiner_test_cfg.flip_test=False',
        'model.refiner_test_cfg.decision_thr=None',
        f'test_dataloader.dataset.data_root={coco_mini}/',
        'test_dataloader.batch_size=32', f'test_evaluator.0.ann_file={ann}',
        f'test_evaluator.1.ann_file={ann}', f'test_evaluator.2.ann_file={ann}'
    ])
    runpy.run_path(osp.join(REPO_ROOT, 'tools', 'test.py'),
                   run_name='__main__')
    result = json.loads(metrics.read_text())
    assert result['coco-input/AP'] == pytest.approx(1.0)
    assert result['errors/input_good'] == pytest.approx(1.0)
    # the identity refiner's sub-pixel bias costs no joint its class
    assert result['errors/good'] == pytest.approx(1.0)
    assert result['coco/AP'] == pytest.approx(1.0, abs=0.02)


def _identity_refiner_model(pose_model, coco_mini, num_samples):
    """PoseRefiner with a PoseFix that returns its input (input prior, zero
    last layer, no flip), and a preprocessed batch of coco_mini val."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    refiner = Config.fromfile(osp.join(REPO_ROOT, cfg.model.refiner))
    refiner.model.head.input_prior_beta = 1.0
    refiner.model.test_cfg.flip_test = False
    torch.manual_seed(0)
    model = MODELS.build(
        dict(cfg.model, pose_model=pose_model, refiner=refiner))
    model.init_weights()
    model.eval()
    loader = cfg.test_dataloader.dataset
    loader.data_root = coco_mini
    dataset = DATASETS.build(loader)
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(num_samples)]), False)
    return model, data


def _assert_identity(refined, given):
    """Within the identity refiner's sub-pixel bias (< 0.05 output px, see
    test_posefix_estimator) in image pixels: output px x stride x
    image/crop, the crop being the keypoint box x1.2 x1.25 over 96 px."""
    box = np.ptp(given, axis=0).max() * 1.2 * 1.25
    np.testing.assert_allclose(refined, given, atol=0.05 * 4 * box / 96)


def test_identity_refiner_returns_the_base_poses(coco_mini):
    """The poses survive crop -> refine -> image unchanged, and the base
    model's predictions are kept as input_keypoints."""
    pose_model = osp.join(REPO_ROOT, Config.fromfile(CONFIG).model.pose_model)
    model, data = _identity_refiner_model(pose_model, coco_mini, 4)
    with torch.no_grad():
        base = model.pose_model.predict(data['inputs'], data['data_samples'])
        base_kpts = [s.pred_instances.keypoints.copy() for s in base]
        # PoseFix crops the image the pipeline loaded: no second read
        for sample in data['data_samples']:
            sample.set_metainfo(dict(img_path='/nowhere/gone.jpg'))
        out = model(data['inputs'], data['data_samples'], 'predict')
    for sample, expected in zip(out, base_kpts):
        pred = sample.pred_instances
        np.testing.assert_allclose(pred.input_keypoints, expected, atol=1e-4)
        _assert_identity(pred.keypoints[0], expected[0])


def test_pipeline_without_the_full_image_named(coco_mini):
    pose_model = osp.join(REPO_ROOT, Config.fromfile(CONFIG).model.pose_model)
    model, data = _identity_refiner_model(pose_model, coco_mini, 1)
    data['data_samples'][0].set_metainfo(dict(full_img=None))
    del data['data_samples'][0].full_img
    with pytest.raises(KeyError, match='KeepFullImage'):
        model(data['inputs'], data['data_samples'], 'predict')


def test_training_is_refused():
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.pose_model = osp.join(REPO_ROOT, cfg.model.pose_model)
    cfg.model.refiner = osp.join(REPO_ROOT, cfg.model.refiner)
    model = MODELS.build(cfg.model)
    with pytest.warns(UserWarning, match='no pose_checkpoint given: this '
                      'model is UNTRAINED'):
        model.init_weights()
    with pytest.raises(RuntimeError, match='for testing'):
        model(torch.zeros(1, 3, 128, 96), [], mode='loss')


def test_checkpoint_of_another_model_refused(tmp_path):
    from posefix_mm.utils import CheckpointError
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.pose_model = osp.join(REPO_ROOT, cfg.model.pose_model)
    cfg.model.refiner = osp.join(REPO_ROOT, cfg.model.refiner)
    base = save_model(cfg.model.pose_model, tmp_path / 'base.pth')
    model = MODELS.build(dict(cfg.model, refiner_checkpoint=base))
    with pytest.raises(CheckpointError, match='refiner_checkpoint: .*does '
                       'not fit the model'):
        model.init_weights()


class TwoPosesPerImage(BaseModule):
    """A stand-in bottom-up model: two poses per whole image."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        base = np.array([[150., 100.], [160, 95], [140, 95], [170, 100],
                         [130, 100], [185, 140], [115, 140], [195, 190],
                         [105, 190], [200, 235], [100, 235], [175, 240],
                         [125, 240], [178, 310], [122, 310], [180, 380],
                         [120, 380]], np.float32)
        self.poses = np.stack([base, base + [200., 20.]])

    def forward(self, inputs, data_samples, mode='predict'):
        from mmengine.structures import InstanceData
        for sample in data_samples:
            sample.pred_instances = InstanceData(
                keypoints=self.poses.copy(),
                keypoint_scores=np.ones((2, 17), np.float32))
        return data_samples


def test_several_instances_per_image_bottom_up_style(coco_mini):
    MODELS.register_module('TwoPosesPerImage', module=TwoPosesPerImage,
                           force=True)
    model, data = _identity_refiner_model(
        dict(type='TwoPosesPerImage'), coco_mini, 2)
    with torch.no_grad():
        out = model(data['inputs'], data['data_samples'], 'predict')
    for sample in out:
        pred = sample.pred_instances
        assert pred.keypoints.shape == (2, 17, 2)
        np.testing.assert_allclose(pred.input_keypoints,
                                   TwoPosesPerImage().poses)
        # each instance refined on its own crop and put back in its place
        for refined, given in zip(pred.keypoints, pred.input_keypoints):
            _assert_identity(refined, given)
