"""The library behind the tools on a small COCO set built in the test's
folder (tests/synthetic.py): a results file refined end to end, the AP
table, the pictures, the datasets, the evaluation, the decision report and
the error-table fit. Fast: no shared data, no training, no process."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from xtcocotools.coco import COCO

from posefix_mm.apis.decision_report import decide, oracle
from posefix_mm.evaluation.fit_error_tables import ErrorTableFitter
from posefix_mm.apis.synthetic_inputs import (good_only_tables,
                                              synthetic_results)
from posefix_mm.datasets import PoseFixResultsDataset
from posefix_mm.engine import Refined
from posefix_mm.evaluation import cocoeval_keypoints, match
from ..conftest import REPO_ROOT, pycocotools_ap, run_tool, save_model
from ..synthetic import (coco_dataset, coco_meta, results_of, write_coco,
                         write_results)

CONFIG = osp.join(REPO_ROOT, 'configs',
                  'posefix_r18_coco-mini-lspet-128x96.py')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_coco(tmp_path_factory.mktemp('coco'))


@pytest.fixture(scope='module')
def meta():
    return coco_meta()


@pytest.fixture(scope='module')
def sigmas(meta):
    return meta['sigmas']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The small refiner with the input prior, untrained: it returns about
    its input pose."""
    return save_model(CONFIG, tmp_path_factory.mktemp('ckpt') / 'r18.pth')


def test_ground_truth_as_results_scores_ap_one(data, sigmas):
    coco = COCO(data['ann'])
    assert cocoeval_keypoints(coco, results_of(data),
                              sigmas)['AP'] == pytest.approx(1.0)
    noisy = cocoeval_keypoints(coco, results_of(data, noise=8.0), sigmas)
    assert noisy['AP'] < 0.9


def test_results_dataset_samples(data, tmp_path):
    path = write_results(tmp_path / 'r.json', results_of(data, absent=[9]))
    dataset = PoseFixResultsDataset.from_files(path, data['img_dir'])
    assert len(dataset) == len(data['coco']['annotations'])
    info = dataset.get_data_info(0)
    np.testing.assert_allclose(info['input_keypoints'][0][:9],
                               data['keypoints'][1][:9], atol=1e-4)
    assert info['input_keypoints_visible'][0][9] == 0
    assert osp.isfile(info['img_path'])
    # with the annotations, an image id it does not know is a counted skip
    entries = results_of(data)
    entries[0]['image_id'] = 99
    dataset = PoseFixResultsDataset.from_files(
        write_results(tmp_path / 'r2.json', entries), data['img_dir'],
        ann_file=data['ann'])
    assert len(dataset) == len(entries) - 1
    assert sum(dataset.skipped.values()) == 1


def test_coco_dataset_reads_the_annotations(data):
    dataset = coco_dataset(data)
    assert len(dataset) == len(data['coco']['annotations'])
    info = dataset.get_data_info(1)
    np.testing.assert_allclose(info['keypoints'][0], data['keypoints'][2])


def test_refine_file_end_to_end(data, checkpoint, tmp_path, capsys):
    """tools/refine.py's work: every entry refined, the AP table, one
    picture per person; the untrained refiner with the input prior returns
    about its input."""
    results = results_of(data, noise=2.0, absent=[9])
    path = write_results(tmp_path / 'in.json', results)
    out, vis = tmp_path / 'out.json', tmp_path / 'vis'
    table = run_tool('refine', [
        CONFIG, checkpoint, '--input', path, '--img-dir', data['img_dir'],
        '--out', out, '--ann', data['ann'], '--vis-dir', vis, '--batch-size',
        4
    ])
    refined = json.loads(out.read_text())
    assert len(refined) == len(results)
    for entry, given in zip(refined, results):
        assert entry['image_id'] == given['image_id']
        assert entry['input_absent'] == [9]
        kpts = np.asarray(entry['keypoints']).reshape(17, 3)
        given_kpts = np.asarray(given['keypoints']).reshape(17, 3)
        # present joints: near their input and scored as it
        present = np.arange(17) != 9
        assert np.abs(kpts[present, :2] -
                      given_kpts[present, :2]).max() < 4.0
        np.testing.assert_allclose(kpts[present, 2], 0.9)
        assert kpts[9, 2] == pytest.approx(entry['keypoint_peaks'][9],
                                           abs=1e-4)
    # the AP table is the AP of the two files, as pycocotools computes it
    assert table['input']['AP'] == pytest.approx(
        pycocotools_ap(data['ann'], path), abs=1e-12)
    assert table['refined']['AP'] == pytest.approx(
        pycocotools_ap(data['ann'], out), abs=1e-12)
    assert table['input']['AP'] != table['refined']['AP']
    assert len(os.listdir(vis)) == len(results)
    # a person 480 pixels high by default, under three strips of text
    picture = cv2.imread(str(vis / sorted(os.listdir(vis))[0]))
    assert 480 + 36 <= picture.shape[0] <= 480 + 120
    printed = capsys.readouterr().out
    assert f'refined {len(results)} of {len(results)} entries' in printed


def test_refine_file_without_the_images_refuses(data, checkpoint, tmp_path):
    path = write_results(tmp_path / 'in.json', results_of(data))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(SystemExit) as error:
        run_tool('refine', [
            CONFIG, checkpoint, '--input', path, '--img-dir', empty,
            '--out', tmp_path / 'out.json'
        ])
    assert error.value.code == 2
    assert not (tmp_path / 'out.json').exists()


def _outputs(data, moved: float):
    """Refined poses of every annotated person: the input is the ground
    truth moved by 6 px on joints 0-8; the refined joints are the ground
    truth moved by ``moved`` px; refine probabilities 0.9 on the first
    joints, 0.1 on the others."""
    outputs = []
    for i, ann in enumerate(data['coco']['annotations']):
        gt = data['keypoints'][ann['id']]
        inputs = gt.copy()
        inputs[:9] += 6
        info = dict(
            id=i,
            img_id=ann['image_id'],
            bbox_score=np.ones(1, np.float32),
            input_keypoints=inputs[None],
            input_keypoints_visible=np.ones((1, 17), np.float32),
            input_keypoint_scores=np.ones(17, np.float32))
        probs = np.where(np.arange(17) < 9, 0.9, 0.1).astype(np.float32)
        outputs.append(
            Refined(info, gt + moved, np.full(17, 0.2, np.float32), probs))
    return outputs


def test_decide_and_oracle(data, sigmas):
    outputs = _outputs(data, moved=1.0)
    # threshold 0.5: joints 0-8 refined, the others kept
    for o, decided in zip(outputs, decide(outputs, 0.5)):
        np.testing.assert_array_equal(decided[9:], o.input_keypoints[9:])
        np.testing.assert_array_equal(decided[:9], o.keypoints[:9])
    for o, decided in zip(outputs, decide(outputs, 1.0)):
        np.testing.assert_array_equal(decided, o.input_keypoints)
    gt = json.load(open(data['ann']))
    inputs = [
        dict(image_id=o.info['img_id'], category_id=1,
             keypoints=np.concatenate([o.input_keypoints,
                                       np.ones((17, 1))], 1).ravel().tolist(),
             score=1.0) for o in outputs
    ]
    chosen = oracle(outputs, gt, inputs, sigmas)
    # the oracle takes the nearer point: the refined one (1 px) where the
    # input is 6 px off, either where both are alike off
    for o, c in zip(outputs, chosen):
        np.testing.assert_array_equal(c[:9], o.keypoints[:9])


def test_synthetic_good_inputs_are_near_the_truth(data, sigmas):
    results = synthetic_results(data['ann'], data['img_dir'], 'good', 0, 0.0)
    assert len(results) == len(data['coco']['annotations'])
    ap = cocoeval_keypoints(COCO(data['ann']), results, sigmas)['AP']
    assert ap > 0.9
    tables = good_only_tables()
    assert all(p == 0 for row in tables['jitter'] for p in row[1])


def test_error_table_fit_of_the_truth_is_all_good(data, meta, sigmas):
    gt = json.load(open(data['ann']))
    fitter = ErrorTableFitter(sigmas, meta['flip_indices'])
    fitter.add(gt, results_of(data))
    fit = fitter.tables()
    assert fit['matched'] == len(gt['annotations'])
    measured = 0
    for key in ('jitter', 'miss', 'inversion', 'swap'):
        # bins without persons keep the reference's values
        for (_, probs), counts in zip(fit['error_tables'][key],
                                      fit['counts'][key]):
            n = np.asarray(counts['n'])
            assert (np.asarray(probs)[n > 0] == 0).all(), key
            measured += (n > 0).sum()
    assert measured > 0
    assert len(match(gt, results_of(data), sigmas)['pairs']) == len(
        gt['annotations'])
