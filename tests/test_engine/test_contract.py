"""One refine contract: the same poses on the same images give the same
refined keypoints and scores through every path (RefineInferencer,
tools/refine.py with the torch model and with the ONNX backend,
PoseRefiner, and tools/decision_report.py's decision)."""
import glob
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from posefix_mm.apis import init_refiner
from posefix_mm.apis.decision_report import decide
from posefix_mm.datasets import PoseFixResultsDataset
from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.engine import refine_pipeline, refine_samples
from posefix_mm.evaluation.calibration import calibrated_config
from ..conftest import REPO_ROOT, run_tool
from ..test_apis.test_refine_inferencer_options import (BASE_CONFIG,
                                                        REFINER_CONFIG,
                                                        moving_inferencer)

pytestmark = pytest.mark.integration

POSE_REFINER_CONFIG = osp.join(
    REPO_ROOT, 'configs', 'refine',
    'posefix-refine_td-hm-res18_coco-mini-128x96.py')


@pytest.fixture(scope='module')
def setting(tmp_path_factory, coco_mini):
    """A random 2D model; a moving refiner with a decision, its threshold
    the median refine probability on three coco_mini val images (a config
    written as the calibration writes it); an absent-score threshold that
    makes a third of the 2D model's joints absent."""
    folder = tmp_path_factory.mktemp('contract')
    images = sorted(glob.glob(osp.join(coco_mini, 'val2017', '*.jpg')))[:3]
    inferencer = moving_inferencer(folder)
    first = [r['predictions'][0][0] for r in inferencer(images)]
    scores = np.concatenate([r['keypoint_scores'] for r in first])
    inferencer.absent_score_thr = float(np.quantile(scores, 0.33))
    thr = float(
        np.median(np.concatenate([r['keypoint_refine_probs']
                                  for r in first])))
    inferencer.model.test_cfg['decision_thr'] = thr
    refiner_config = str(folder / 'refiner.py')
    with open(refiner_config, 'w') as f:
        f.write(calibrated_config(REFINER_CONFIG, thr, 'test'))
    return dict(
        folder=folder,
        images=images,
        inferencer=inferencer,
        refiner_config=refiner_config,
        base_weights=str(folder / 'base.pth'),
        refiner_weights=str(folder / 'refiner.pth'),
        thr=inferencer.absent_score_thr,
        decision_thr=thr)


@pytest.fixture(scope='module')
def inferred(setting):
    """RefineInferencer's refined instances and the 2D model's poses as a
    COCO results file (image id = the file's name, as COCO's)."""
    refined, entries = [], []
    for image, result in zip(
            setting['images'],
            setting['inferencer'](setting['images'],
                                  return_datasamples=True)):
        pred = result['predictions'][0].pred_instances
        refined.append(pred)
        image_id = int(osp.splitext(osp.basename(image))[0])
        for kpts, scores in zip(pred.input_keypoints,
                                pred.input_keypoint_scores):
            entries.append(coco_entry(image_id, kpts, scores))
    path = setting['folder'] / 'pose2d_results.json'
    path.write_text(json.dumps(entries))
    return refined, str(path)


def _flat(instances, field):
    return np.concatenate([np.asarray(p.get(field)) for p in instances])


def _refine_file(setting, inferred, coco_mini, name, *args):
    out = setting['folder'] / f'{name}.json'
    run_tool('refine', [
        setting['refiner_config'], *args, '--input', inferred[1],
        '--img-dir',
        osp.join(coco_mini, 'val2017'), '--out', out, '--absent-score-thr',
        setting['thr'], '--box-source', 'keypoints'
    ])
    entries = json.loads(out.read_text())
    kpts = np.array([e['keypoints'] for e in entries]).reshape(
        len(entries), -1, 3)
    return entries, kpts[..., :2], kpts[..., 2]


def test_the_comparison_means_something(inferred):
    """Joints moved, joints kept, joints absent: each rule is exercised."""
    refined = inferred[0]
    moved = np.linalg.norm(
        _flat(refined, 'keypoints') - _flat(refined, 'input_keypoints'),
        axis=-1)
    refined_joints = _flat(refined, 'keypoints_refined')
    absent = _flat(refined, 'input_absent')
    assert (moved > 1).mean() > 0.2
    assert (~refined_joints).mean() > 0.1 and absent.mean() > 0.2
    # a kept joint is the input point exactly; an absent one scores its
    # peak, a present one the input's score
    assert (moved[~refined_joints] == 0).all()
    scores = _flat(refined, 'keypoint_scores')
    np.testing.assert_array_equal(scores[absent],
                                  _flat(refined, 'keypoint_peaks')[absent])
    np.testing.assert_array_equal(
        scores[~absent], _flat(refined, 'input_keypoint_scores')[~absent])


def test_results_file_torch_and_onnx_as_the_inferencer(
        setting, inferred, coco_mini):
    refined = inferred[0]
    keypoints = _flat(refined, 'keypoints')
    entries, kpts, scores = _refine_file(setting, inferred, coco_mini,
                                         'torch', setting['refiner_weights'])
    assert len(entries) == len(keypoints)
    np.testing.assert_allclose(kpts, keypoints, atol=1e-4)
    np.testing.assert_allclose(scores, _flat(refined, 'keypoint_scores'),
                               atol=1e-6)
    np.testing.assert_allclose([e['keypoint_refine_probs'] for e in entries],
                               _flat(refined, 'keypoint_refine_probs'),
                               atol=1e-4)
    assert [e['input_absent'] for e in entries] == [
        np.flatnonzero(a).tolist() for a in _flat(refined, 'input_absent')
    ]

    onnx_file = setting['folder'] / 'refiner.onnx'
    run_tool('export_onnx', [
        setting['refiner_config'], setting['refiner_weights'], '--out',
        onnx_file
    ])
    _, onnx_kpts, onnx_scores = _refine_file(setting, inferred, coco_mini,
                                             'onnx', '--backend',
                                             'onnxruntime', '--onnx',
                                             onnx_file)
    assert np.abs(onnx_kpts - keypoints).max() <= 0.01
    np.testing.assert_allclose(onnx_scores, scores, atol=1e-4)


def test_pose_refiner_as_the_inferencer(setting, inferred):
    """PoseRefiner on the same images, in the whole-image boxes the
    inferencer used: the same 2D poses and the same refinement."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(POSE_REFINER_CONFIG)
    model = MODELS.build(
        dict(
            cfg.model,
            pose_model=BASE_CONFIG,
            refiner=setting['refiner_config'],
            pose_checkpoint=setting['base_weights'],
            refiner_checkpoint=setting['refiner_weights'],
            absent_score_thr=setting['thr']))
    model.init_weights()
    model.eval()
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    meta = setting['inferencer'].pose2d_model.model.dataset_meta
    samples = []
    for image in setting['images']:
        h, w = mmcv.imread(image).shape[:2]
        samples.append(
            pipeline(
                dict(
                    img_path=image,
                    img_id=0,
                    bbox=np.array([[0, 0, w, h]], np.float32),
                    bbox_score=np.ones(1, np.float32),
                    flip_indices=meta['flip_indices'])))
    data = model.data_preprocessor(pseudo_collate(samples), False)
    with torch.no_grad():
        out = model(data['inputs'], data['data_samples'], 'predict')
    pose_refined = [s.pred_instances for s in out]
    refined = inferred[0]
    np.testing.assert_allclose(
        _flat(pose_refined, 'input_keypoints'),
        _flat(refined, 'input_keypoints'), atol=1e-4)
    for field in ('keypoints', 'keypoint_scores', 'keypoint_peaks',
                  'keypoint_refine_probs', 'input_keypoint_scores'):
        np.testing.assert_allclose(
            _flat(pose_refined, field), _flat(refined, field), atol=1e-4,
            err_msg=field)
    np.testing.assert_array_equal(
        _flat(pose_refined, 'keypoints_refined'),
        _flat(refined, 'keypoints_refined'))


def test_decision_report_decides_as_the_refiner(setting, inferred,
                                                coco_mini):
    """decision_report refines once without a threshold and applies the
    head's rule per threshold: at the config's threshold, the poses every
    other path returns."""
    model = init_refiner(setting['refiner_config'],
                         setting['refiner_weights'],
                         test_cfg=dict(decision_thr=None))
    dataset = PoseFixResultsDataset.from_files(
        inferred[1],
        osp.join(coco_mini, 'val2017'),
        box_source='keypoints',
        absent_score_thr=setting['thr'])
    outputs, _ = refine_samples(
        model, [dataset.get_data_info(i) for i in range(len(dataset))],
        Compose(refine_pipeline(model.cfg)), progress=False)
    decided = np.stack(decide(outputs, setting['decision_thr']))
    np.testing.assert_allclose(
        decided, _flat(inferred[0], 'keypoints'), atol=1e-4)
