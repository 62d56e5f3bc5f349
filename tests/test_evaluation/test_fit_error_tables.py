"""Error tables fitted to an estimator: a statistical round trip through
the synthesis, and the tool on a real estimator's results."""
import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.datasets.transforms import (COCO_ERROR_TABLES,
                                            SynthesizePoseErrors)
from posefix_mm.evaluation.fit_error_tables import ErrorTableFitter
from posefix_mm.datasets.transforms.error_tables import row_at
from ..conftest import run_tool

TRAIN_ANN = 'annotations/person_keypoints_train2017.json'


def _dataset(root):
    init_default_scope('mmpose')
    return DATASETS.build(
        dict(type='PoseFixCocoDataset', data_root=root, ann_file=TRAIN_ANN,
             data_prefix=dict(img='train2017/'), pipeline=[]))


def _tables_modified():
    """COCO's tables, changed so that a fit that merely returned the
    reference (or the defaults) would be caught."""
    tables = json.loads(json.dumps(COCO_ERROR_TABLES))
    for row in tables['jitter']:
        row[1] = [p * 1.6 for p in row[1]]
    for row in tables['inversion']:
        row[1] = [p * 2 for p in row[1]]
    return tables


def test_round_trip_within_sampling_error(coco_mini, coco_extra):
    """Inputs synthesized with known tables on real persons, fitted back:
    every entry within 4.5 standard errors of the known value (the counts
    behind the entry give the error), and the entries that are tested
    are three quarters of the table."""
    known = _tables_modified()
    fitter = None
    for root in (coco_mini, coco_extra):
        dataset = _dataset(root)
        with open(f'{root}/{TRAIN_ANN}') as f:
            gt = json.load(f)
        if fitter is None:
            fitter = ErrorTableFitter(dataset.metainfo['sigmas'],
                                      dataset.metainfo['flip_indices'])
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        for seed in range(12):
            synth = SynthesizePoseErrors(error_tables=known, seed=seed)
            fitter.add(gt, [
                coco_entry(i['img_id'], synth(dict(i))['input_keypoints'][0])
                for i in infos
            ])
    fit = fitter.tables()
    assert fit['unmatched'] < 0.02 * fit['matched']
    tested = total = 0
    for key in ('jitter', 'miss', 'inversion', 'swap', 'swap_crowded'):
        # the fit has every key in the same bins (max_nv 5, 10, None)
        for (max_nv, probs), counts in zip(fit['error_tables'][key],
                                           fit['counts'][key]):
            true = row_at(known[key], 17 if max_nv is None else max_nv)
            p, q, n = np.array(true), np.array(probs), np.array(counts['n'])
            total += len(n)
            enough = n >= 30
            tested += enough.sum()
            error = np.sqrt(p * (1 - p) / np.maximum(n, 1))
            assert (np.abs(q - p)[enough] <= 4.5 * error[enough] +
                    1e-3).all(), (key, np.round(q - p, 3), n)
    # most entries are tested (rows of persons with <= 5 labelled joints and
    # swaps there are thin in coco_mini; the nose has no inversion)
    assert tested >= 0.75 * total


def test_absent_joints_counted_apart(coco_mini):
    dataset = _dataset(coco_mini)
    with open(f'{coco_mini}/{TRAIN_ANN}') as f:
        gt = json.load(f)
    fitter = ErrorTableFitter(dataset.metainfo['sigmas'],
                              dataset.metainfo['flip_indices'])
    results = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        kpts = info['keypoints'][0].copy()
        kpts[9:11] = 0  # wrists absent, as many estimators write them
        results.append(coco_entry(info['img_id'], kpts))
    fitter.add(gt, results)
    fit = fitter.tables()
    share = np.array(fit['absent_share'])
    assert (share[9:11] == 1).all() and (share[:9] == 0).all()
    # the ground truth itself: every present joint good, absent ones left
    # out of the types (not misses)
    for row in fit['counts']['miss']:
        assert sum(row['k']) == 0


def test_tool_on_a_real_estimator(coco_mini, tmp_path):
    out = tmp_path / 'tables.json'
    fit = run_tool('fit_error_tables', [
        '--results', f'{coco_mini}/predictions/blazepose_full_val2017.json',
        '--ann', f'{coco_mini}/annotations/person_keypoints_val2017.json',
        '--out', out
    ])
    assert fit['matched'] > 50
    saved = json.loads(out.read_text())
    assert saved['error_tables'] == fit['error_tables']
    # training reads the file
    synth = SynthesizePoseErrors(error_tables=str(out))
    assert synth.error_tables == saved['error_tables']


def test_bad_tables_file_named(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(jitter=[[None, [0.5] * 17]])))
    with pytest.raises(ValueError, match='bad.json: error tables lack'):
        SynthesizePoseErrors(error_tables=str(bad))
