"""The refine contract where poses are made, on synthetic data (the fast
tier): ``tools/test.py``'s predictions (the estimator's ``predict`` through
MMEngine's test loop, as any ``mim test`` runs it) and ``tools/refine.py``'s
refined file (:func:`~posefix_mm.apis.refine_results_file`) hold the same
fields with the same values, on the same persons and boxes."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest

from posefix_mm.apis import refine_results_file
from ..conftest import REPO_ROOT, random_last_layer, run_tool, save_model
from ..synthetic import results_of, write_coco, write_results

#: the small refiner with an input prior and a learned decision
CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')

#: each field of the contract, in tools/test.py's predictions
CONTRACT_FIELDS = {
    'keypoints', 'keypoint_scores', 'keypoint_peaks', 'keypoint_refine_probs',
    'keypoints_kept', 'keypoints_refined', 'input_keypoints',
    'input_keypoint_scores', 'input_absent'
}


@pytest.fixture(scope='module')
def same_poses(tmp_path_factory):
    """The synthetic persons' poses with noise, joint 9 of each absent and
    scores that vary; a refiner whose last layer is random (it moves
    joints) and whose decision keeps about half of them (threshold: the
    median refine probability of a first run)."""
    folder = tmp_path_factory.mktemp('same_poses')
    data = write_coco(folder)
    results = results_of(data, noise=3.0, absent=[9])
    rng = np.random.default_rng(0)
    for entry in results:
        kpts = np.asarray(entry['keypoints']).reshape(17, 3)
        kpts[kpts[:, 2] > 0, 2] = rng.uniform(0.3, 1.0, (kpts[:, 2] > 0).sum())
        entry['keypoints'] = kpts.ravel().tolist()
    input_file = write_results(folder / 'results.json', results)
    checkpoint = save_model(CONFIG, folder / 'refiner.pth',
                            change=random_last_layer)
    first = refine_results_file(CONFIG, input_file, data['img_dir'],
                                str(folder / 'first.json'), checkpoint)
    assert first.refined == len(results)
    probs = [p for e in json.loads((folder / 'first.json').read_text())
             for i, p in enumerate(e['keypoint_refine_probs']) if i != 9]
    thr = float(np.median(probs))
    config = folder / 'refiner.py'
    config.write_text(f"""_base_ = [{CONFIG!r}]
model = dict(test_cfg=dict(decision_thr={thr!r}))
test_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(
        _delete_=True, type='PoseFixResultsDataset', data_root='',
        input_file={input_file!r}, ann_file={data['ann']!r},
        data_prefix=dict(img={data['img_dir'] + '/'!r}),
        pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                  dict(type='TopdownAffineWithInputPose',
                       input_size=(96, 128)),
                  dict(type='PackPoseFixInputs')], test_mode=True))
test_evaluator = [dict(type='CocoMetric', ann_file={data['ann']!r}),
                  dict(type='InputPoseCocoMetric', ann_file={data['ann']!r})]
""")
    out = folder / 'refined.json'
    refine_results_file(str(config), input_file, data['img_dir'], str(out),
                        checkpoint, ann=data['ann'])
    dump = folder / 'predictions.pkl'
    run_tool('test', [
        config, checkpoint, '--dump', dump, '--work-dir', folder / 'work'
    ])
    with open(dump, 'rb') as f:
        predictions = pickle.load(f)
    return results, json.loads(out.read_text()), predictions


def _flat(predictions, field):
    return np.concatenate(
        [np.asarray(p['pred_instances'][field]) for p in predictions])


def test_test_tool_predictions_carry_the_contract(same_poses):
    results, refined, predictions = same_poses
    assert len(predictions) == len(refined) == len(results)
    for p in predictions:
        assert CONTRACT_FIELDS <= set(p['pred_instances']), set(
            p['pred_instances'])
    # the comparison means something: moved, kept and absent joints
    moved = np.linalg.norm(
        _flat(predictions, 'keypoints') -
        _flat(predictions, 'input_keypoints'), axis=-1)
    kept = ~_flat(predictions, 'keypoints_refined')
    absent = _flat(predictions, 'input_absent')
    assert (moved > 1).mean() > 0.2 and kept.mean() > 0.2
    assert absent[:, 9].all() and absent.sum() == len(absent)
    assert (moved[kept] == 0).all()


def test_test_tool_and_refined_file_same_values(same_poses):
    results, refined, predictions = same_poses
    entries = np.array([e['keypoints'] for e in refined]).reshape(
        len(refined), 17, 3)
    np.testing.assert_allclose(_flat(predictions, 'keypoints'),
                               entries[..., :2], atol=1e-4)
    np.testing.assert_allclose(_flat(predictions, 'keypoint_scores'),
                               entries[..., 2], atol=1e-4)
    for field in ('keypoint_peaks', 'keypoint_refine_probs'):
        np.testing.assert_allclose(
            _flat(predictions, field), [e[field] for e in refined],
            atol=1e-4, err_msg=field)
    for field in ('input_absent', 'keypoints_refined'):
        assert [np.flatnonzero(a).tolist()
                for a in _flat(predictions, field)] == [
                    e[field] for e in refined], field
    # the input's joint scores come out as they went in
    inputs = np.array([e['keypoints'] for e in results]).reshape(
        len(results), 17, 3)
    np.testing.assert_allclose(_flat(predictions, 'input_keypoint_scores'),
                               inputs[..., 2], atol=1e-6)
    # a kept joint is its input point, scored as the input; an absent one
    # scores the refiner's peak
    kept = ~_flat(predictions, 'keypoints_refined')
    np.testing.assert_array_equal(
        _flat(predictions, 'keypoints')[kept],
        _flat(predictions, 'input_keypoints')[kept])
    absent = _flat(predictions, 'input_absent')
    np.testing.assert_allclose(
        _flat(predictions, 'keypoint_scores')[absent],
        _flat(predictions, 'keypoint_peaks')[absent], atol=1e-6)
