"""RefineInferencer end to end on real coco_mini images, fully offline, with
randomly initialised models saved locally."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from posefix_mm.apis import RefineInferencer
from ..conftest import REPO_ROOT

BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'baselines',
                       'td-hm_res18_coco-mini-128x96.py')
REFINER_CONFIG = osp.join(REPO_ROOT, 'configs',
                          'posefix_r18_coco-mini-128x96.py')


def _save_random(config, path, scope='mmpose'):
    from mmengine.registry import MODELS as ROOT_MODELS
    init_default_scope(scope)
    model = ROOT_MODELS.build(Config.fromfile(config).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    init_default_scope('mmpose')
    return path


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp('weights')
    return dict(
        pose2d=_save_random(BASE_CONFIG, str(folder / 'base.pth')),
        refiner=_save_random(REFINER_CONFIG, str(folder / 'refiner.pth')))


@pytest.fixture(scope='module')
def images(coco_mini):
    return sorted(glob.glob(osp.join(coco_mini, 'val2017', '*.jpg')))[:2]


def _check(results, n_images):
    assert len(results) == n_images
    for result in results:
        refined = result['predictions'][0]
        base = result['input_predictions'][0]
        assert len(refined) == len(base) >= 1
        for r, b in zip(refined, base):
            assert np.asarray(r['keypoints']).shape == (17, 2)
            assert r['keypoint_scores'] == b['keypoint_scores']
            assert r['bbox'] == b['bbox']


def test_whole_image_offline(weights, images, tmp_path):
    inferencer = RefineInferencer(
        BASE_CONFIG, weights['pose2d'], refiner=REFINER_CONFIG,
        refiner_weights=weights['refiner'], det_model='whole_image',
        device='cpu')
    results = list(inferencer(images, vis_out_dir=str(tmp_path)))
    _check(results, len(images))
    pictures = sorted(os.listdir(tmp_path))
    assert pictures == [osp.basename(p)[:-4] + '.png' for p in images]


def test_with_mmdet_detector(weights, images, tmp_path):
    det_config = osp.join(
        osp.dirname(__import__('mmdet').__file__), '.mim', 'configs',
        'rtmdet', 'rtmdet_tiny_8xb32-300e_coco.py')
    det_weights = _save_random(det_config, str(tmp_path / 'rtmdet.pth'),
                               scope='mmdet')
    inferencer = RefineInferencer(
        BASE_CONFIG, weights['pose2d'], refiner=REFINER_CONFIG,
        refiner_weights=weights['refiner'], det_model=det_config,
        det_weights=det_weights, det_cat_ids=[0], device='cpu')
    # an untrained detector may find nobody: the structure must hold anyway
    results = list(inferencer(images[:1], bbox_thr=0.0))
    assert len(results) == 1
    refined = results[0]['predictions'][0]
    assert len(refined) == len(results[0]['input_predictions'][0])


@pytest.mark.parametrize('field', ['pose2d_weights', 'refiner_weights',
                                   'det_weights'])
def test_missing_weights_are_errors_not_downloads(weights, field):
    kwargs = dict(
        pose2d=BASE_CONFIG, pose2d_weights=weights['pose2d'],
        refiner=REFINER_CONFIG, refiner_weights=weights['refiner'])
    if field == 'det_weights':
        kwargs.update(det_model=BASE_CONFIG, det_weights='/nowhere/det.pth')
    else:
        kwargs[field] = '/nowhere/missing.pth'
    with pytest.raises(FileNotFoundError, match=f'{field}.*/nowhere/'):
        RefineInferencer(**kwargs)


@pytest.fixture(scope='module')
def inferencer(weights):
    return RefineInferencer(
        BASE_CONFIG, weights['pose2d'], refiner=REFINER_CONFIG,
        refiner_weights=weights['refiner'], device='cpu')


def test_unreadable_image_named(inferencer, tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=f'cannot read image {empty}'):
        list(inferencer(str(empty)))


@pytest.mark.parametrize('name, item', [
    ('folder', 'FOLDER'), ('video', 'clip.mp4'), ('webcam', 'webcam')])
def test_unsupported_inputs_refused_before_work(inferencer, tmp_path, name,
                                                item):
    item = str(tmp_path) if item == 'FOLDER' else item
    with pytest.raises(ValueError, match='not supported yet'):
        list(inferencer([item]))


def test_gray_and_four_channel_arrays(inferencer, images):
    import cv2
    bgr = cv2.imread(images[0])
    for img in (cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)):
        [result] = list(inferencer(img))
        assert len(result['predictions'][0]) >= 1


def test_weights_of_another_model_refused(weights):
    from posefix_mm.utils import CheckpointError
    with pytest.raises(CheckpointError, match='does not fit the model'):
        RefineInferencer(
            BASE_CONFIG, weights['pose2d'], refiner=REFINER_CONFIG,
            refiner_weights=weights['pose2d'], device='cpu')
    with pytest.raises(CheckpointError, match='pose2d_weights: .* does not'):
        RefineInferencer(
            BASE_CONFIG, weights['refiner'], refiner=REFINER_CONFIG,
            refiner_weights=weights['refiner'], device='cpu')
