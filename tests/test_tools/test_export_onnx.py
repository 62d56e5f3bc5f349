"""tools/export_onnx.py, and tools/refine.py --backend onnxruntime on the
BlazePose file: the ONNX refiner refines as the torch model does (with the
gate, without the flip test; with the flip test and the decision:
tests/test_engine/test_contract.py)."""
import json
import os.path as osp

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from posefix_mm.deploy import OnnxRefiner, read_settings
from ..conftest import REPO_ROOT, run_tool, save_model
from ..test_deploy.test_onnx_refiner import make_moving

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')
GATE = ['model.test_cfg.gate.ks=0.5', 'model.test_cfg.gate.min_peak=0.3']
#: a decision threshold that splits the moving model's joints (its refine
#: probabilities lie in 0.35-0.55 on the BlazePose file; the config's 0.7
#: would keep every input joint)
THR = 'model.test_cfg.decision_thr=0.45'


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(CONFIG,
                      tmp_path_factory.mktemp('ckpt') / 'posefix.pth',
                      make_moving)


@pytest.fixture(scope='module')
def exported(checkpoint, tmp_path_factory):
    """The refiner with the flip test and the decision."""
    out = tmp_path_factory.mktemp('onnx') / 'refiner.onnx'
    diff = run_tool('export_onnx',
                    [CONFIG, checkpoint, '--out', out, '--cfg-options', THR])
    assert diff <= 0.1
    return str(out)


@pytest.fixture(scope='module')
def blazepose(coco_mini):
    return osp.join(coco_mini, 'predictions', 'blazepose_full_val2017.json')


def refine(coco_mini, tmp_path, input_path, name, *args):
    out = tmp_path / f'{name}.json'
    table = run_tool('refine', [
        CONFIG, *args, '--input', input_path, '--img-dir',
        osp.join(coco_mini, 'val2017'), '--out', out, '--ann',
        osp.join(coco_mini, 'annotations', 'person_keypoints_val2017.json'),
        '--batch-size', 16, '--keypoint-score', 'heatmap'
    ])
    return json.loads(out.read_text()), table


def arrays(results, field='keypoints'):
    return np.array([r[field] for r in results], np.float64)


def assert_same_refinement(torch_results, onnx_results):
    assert len(onnx_results) == len(torch_results)
    a = arrays(torch_results).reshape(len(torch_results), -1, 3)
    b = arrays(onnx_results).reshape(len(onnx_results), -1, 3)
    # within 0.1 px in the image, the same peaks and refine probabilities
    assert np.abs(a[..., :2] - b[..., :2]).max() <= 0.1
    np.testing.assert_allclose(a[..., 2], b[..., 2], atol=1e-4)
    np.testing.assert_allclose(
        arrays(torch_results, 'keypoint_refine_probs'),
        arrays(onnx_results, 'keypoint_refine_probs'), atol=2e-4)


def test_gate_and_no_flip_exported(checkpoint, coco_mini, blazepose,
                                   tmp_path):
    out = tmp_path / 'gated.onnx'
    run_tool('export_onnx', [
        CONFIG, checkpoint, '--out', out, '--no-flip', '--cfg-options', THR,
        *GATE
    ])
    session = onnxruntime.InferenceSession(str(out))
    settings = read_settings(session)
    assert settings['flip_test'] is False
    assert settings['gate'] == dict(ks=0.5, min_peak=0.3)
    assert [i.name for i in session.get_inputs()] == [
        'crop', 'keypoints', 'visible', 'bbox_padding'
    ]
    with open(blazepose) as f:
        subset = json.load(f)[:20]
    subset_path = tmp_path / 'subset.json'
    subset_path.write_text(json.dumps(subset))
    torch_results, _ = refine(coco_mini, tmp_path, subset_path, 'torch',
                              checkpoint, '--no-flip', '--cfg-options', THR,
                              *GATE)
    onnx_results, _ = refine(coco_mini, tmp_path, subset_path, 'onnx',
                             '--backend', 'onnxruntime', '--onnx', out,
                             '--no-flip')
    assert_same_refinement(torch_results, onnx_results)


def test_export_refused_when_onnxruntime_differs(checkpoint, tmp_path,
                                                 monkeypatch):
    run = onnxruntime.InferenceSession.run

    def off_by_half_a_pixel(self, *args, **kwargs):
        return [o + 0.5 for o in run(self, *args, **kwargs)]

    monkeypatch.setattr(onnxruntime.InferenceSession, 'run',
                        off_by_half_a_pixel)
    out = tmp_path / 'refiner.onnx'
    with pytest.raises(SystemExit, match='differs from torch by 0.5'):
        run_tool('export_onnx', [CONFIG, checkpoint, '--out', out])
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize('args,message', [
    (['--backend', 'onnxruntime'], 'needs --onnx'),
    (['--onnx', 'x.onnx'], 'CHECKPOINT is required'),
    (['CKPT', '--onnx', 'x.onnx'], '--onnx needs --backend onnxruntime'),
    (['CKPT', '--backend', 'onnxruntime', '--onnx', 'ONNX'],
     'CHECKPOINT is not used'),
    (['--backend', 'onnxruntime', '--onnx', 'ONNX', '--no-flip'],
     'holds the flip test'),
    (['--backend', 'onnxruntime', '--onnx', 'ONNX', '--cfg-options',
      'model.test_cfg.decision_thr=0.5'], 'export it again'),
    (['--backend', 'onnxruntime', '--onnx', 'missing.onnx'],
     '--onnx: no file'),
])
def test_backend_arguments_checked_before_work(checkpoint, exported,
                                               coco_mini, blazepose,
                                               tmp_path, args, message):
    args = [
        {'CKPT': checkpoint, 'ONNX': exported}.get(a, a) for a in args
    ]
    out = tmp_path / 'refined.json'
    with pytest.raises(SystemExit, match=message):
        run_tool('refine', [
            CONFIG, *args, '--input', blazepose, '--img-dir',
            osp.join(coco_mini, 'val2017'), '--out', out
        ])
    assert not out.exists()


def test_files_that_are_no_refiner_refused(coco_mini, blazepose, tmp_path):
    garbage = tmp_path / 'garbage.onnx'
    garbage.write_bytes(b'not a protobuf at all')
    identity = tmp_path / 'identity.onnx'
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node('Identity', ['x'], ['y'])], 'identity',
        [onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(identity))
    for path, message in ((garbage, 'not a loadable ONNX model'),
                          (identity, 'not a posefix_mm refiner')):
        out = tmp_path / 'refined.json'
        with pytest.raises(SystemExit, match=message):
            run_tool('refine', [
                CONFIG, '--backend', 'onnxruntime', '--onnx', path,
                '--input', blazepose, '--img-dir',
                osp.join(coco_mini, 'val2017'), '--out', out
            ])
        assert not out.exists()


def test_keypoints_of_another_config_refused(exported):
    meta = dict(sigmas=np.full(14, 0.079), flip_indices=list(range(14)))
    with pytest.raises(ValueError, match='flip_indices'):
        OnnxRefiner(exported, meta)


def test_decision_reading_scores_exported(checkpoint, coco_mini, blazepose,
                                          tmp_path):
    """A decision calibrated with the input's joint scores: the graph takes
    them as its ``scores`` input and refines as the torch model does."""
    from posefix_mm.evaluation.calibration import calibrated_config
    from posefix_mm.models.heads.decision_cues import CueDecision
    decision = CueDecision(
        cues=['move', 'log_p_input'], coef=[2.0, 0.5], mean=[0.0, -3.0],
        std=[1.0, 1.0], intercept=0.3, joint_bias=[0.1] * 17,
        score_coef=-1.5, score_mean=0.5, score_std=0.3)
    config = tmp_path / 'scored.py'
    config.write_text(calibrated_config(CONFIG, 0.5, 'test', decision))
    out = tmp_path / 'scored.onnx'
    assert run_tool('export_onnx', [config, checkpoint, '--out', out]) <= 0.1
    session = onnxruntime.InferenceSession(str(out))
    assert [i.name for i in session.get_inputs()][-1] == 'scores'
    assert read_settings(session)['decision_model']['score_coef'] == -1.5
    results = {}
    for backend in ('torch', 'onnxruntime'):
        args = [checkpoint] if backend == 'torch' else [
            '--backend', 'onnxruntime', '--onnx', out]
        path = tmp_path / f'{backend}.json'
        run_tool('refine', [
            config, *args, '--input', blazepose, '--img-dir',
            osp.join(coco_mini, 'val2017'), '--out', path, '--batch-size',
            16, '--keypoint-score', 'heatmap'
        ])
        results[backend] = json.loads(path.read_text())
    assert_same_refinement(results['torch'], results['onnxruntime'])
    # the graph reads the scores: higher scores, lower refine probabilities
    # (score_coef < 0), by the logit the model says
    feeds = {
        i.name: np.random.default_rng(0).random(
            [2 if d == 'batch' or not isinstance(d, int) else d
             for d in i.shape]).astype(np.float32)
        for i in session.get_inputs()
    }
    feeds['crop'] = (feeds['crop'] * 255).astype(np.uint8)
    feeds['keypoints'] *= 90
    feeds['bbox_padding'][:] = 1.25
    probs = []
    for score in (0.2, 0.8):
        feeds['scores'][:] = score
        probs.append(session.run(['refine_probs'], feeds)[0])
    use = (np.minimum(*probs) > 0.01) & (np.maximum(*probs) < 0.99)
    assert use.sum() >= 5
    logits = [np.log(p[use] / (1 - p[use])) for p in probs]
    np.testing.assert_allclose(logits[0] - logits[1], 1.5 * 0.6 / 0.3,
                               atol=1e-3)
