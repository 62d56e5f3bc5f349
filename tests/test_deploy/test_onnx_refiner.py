"""RefinerGraph: the function of tensors that the ONNX export traces computes
what the model's predict computes (no export here: tests/test_tools/
test_export_onnx.py runs the exported file)."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from posefix_mm.apis import init_refiner, refine_pipeline
from posefix_mm.deploy import RefinerGraph
from posefix_mm.models.pose_estimators.posefix_estimator import crop_to_image
from ..conftest import REPO_ROOT

DEMO_CONFIG = osp.join(REPO_ROOT, 'configs',
                       'posefix_r18_coco-mini-lspet-128x96.py')


def make_moving(model) -> None:
    """Random last layers for a demo-config model: the image moves the
    joints, and the decision's probabilities spread around 0.6 (a
    threshold of 0.5 keeps some input joints)."""
    torch.nn.init.normal_(model.head.final_layer.weight, std=1.0)
    last = model.head.decision.mlp[-1]
    torch.nn.init.normal_(last.weight, std=0.5)
    torch.nn.init.constant_(last.bias, 0.4)


def moving_refiner(flip: bool, **test_cfg):
    """The demo model (decision, input prior) made moving, with
    ``test_cfg``."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='untrained'):
        model = init_refiner(DEMO_CONFIG, None, flip=flip, test_cfg=test_cfg)
    make_moving(model)
    return model.eval()


@pytest.fixture(scope='module')
def blazepose_batch(blazepose_results):
    """12 BlazePose results on coco_mini val through the refine pipeline."""
    init_default_scope('mmpose')
    pipeline = Compose(refine_pipeline(Config.fromfile(DEMO_CONFIG)))
    samples = []
    for i in range(12):
        info = blazepose_results.get_data_info(i)
        samples.append(pipeline(dict(info, img=mmcv.imread(info['img_path']))))
    return pseudo_collate(samples)


@pytest.mark.parametrize('flip,test_cfg', [
    (True, dict(decision_thr=0.5)),
    (False, dict(decision_thr=0.5, gate=dict(ks=0.5, min_peak=0.3))),
])
def test_graph_computes_what_predict_computes(blazepose_batch, flip,
                                              test_cfg):
    model = moving_refiner(flip, **test_cfg)
    data = model.data_preprocessor(blazepose_batch, False)
    samples = data['data_samples']
    with torch.no_grad():
        preds = model.predict(data['inputs'], samples)
        crop = torch.stack(blazepose_batch['inputs'])
        assert crop.dtype == torch.uint8  # as the pipeline packs it
        outputs = RefinerGraph(model).eval()(
            crop,
            torch.as_tensor(
                np.stack([s.gt_instances.input_keypoints[0]
                          for s in samples])),
            torch.as_tensor(
                np.stack([
                    s.gt_instances.input_keypoints_visible[0]
                    for s in samples
                ]),
                dtype=torch.float),
            torch.tensor([s.metainfo['bbox_padding'] for s in samples],
                         dtype=torch.float))
    # keypoints, peaks, kept joints, refine probabilities
    assert len(outputs) == 4
    keypoints, peaks, kept, refine_probs = (o.numpy() for o in outputs)
    moved = 0.
    for i, pred in enumerate(preds):
        meta = pred.metainfo
        inst = pred.pred_instances
        np.testing.assert_allclose(
            crop_to_image(keypoints[i], meta), inst.keypoints[0], atol=1e-3)
        np.testing.assert_allclose(peaks[i], inst.keypoint_peaks[0],
                                   atol=1e-6)
        np.testing.assert_array_equal(kept[i] > 0, inst.keypoints_kept[0])
        np.testing.assert_allclose(refine_probs[i],
                                   inst.keypoint_refine_probs[0], atol=1e-6)
        moved += np.abs(inst.keypoints[0] - inst.input_keypoints[0]).mean()
    # the comparison means something: the refiner moves the joints, the
    # decision (threshold 0.5) keeps some
    assert moved / len(preds) > 1.0
    assert 0.1 < (refine_probs < 0.5).mean() < 0.9
    assert kept.any()


def test_graph_of_a_model_without_decision_keeps_no_joint():
    init_default_scope('mmpose')
    config = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')
    with pytest.warns(UserWarning, match='untrained'):
        model = init_refiner(config, None).eval()
    graph = RefinerGraph(model).eval()
    assert graph.output_names == ('refined_keypoints', 'peaks', 'kept')
    with torch.no_grad():
        outputs = graph(*graph.example_inputs(batch_size=3))
    assert [tuple(o.shape) for o in outputs] == [(3, 17, 2), (3, 17),
                                                 (3, 17)]
    assert not outputs[2].any()
    settings = graph.settings()
    assert settings['decision_thr'] is None and settings['flip_test']
    assert settings['input_size'] == [96, 128]
