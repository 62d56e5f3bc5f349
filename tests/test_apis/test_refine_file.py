"""refine_results_file, the library behind tools/refine.py, on synthetic
data: it returns what it wrote and raises RefineFileError, naming the bad
argument or file, before anything is written."""
import json
import os.path as osp

import numpy as np
import pytest

from posefix_mm.apis import RefinedFile, RefineFileError, refine_results_file
from ..conftest import REPO_ROOT, save_model
from ..synthetic import results_of, write_coco, write_results

CONFIG = osp.join(REPO_ROOT, 'configs', 'posefix_r18_coco-mini-128x96.py')
OTHER = osp.join(REPO_ROOT, 'configs', 'baselines',
                 'td-hm_res18_coco-mini-128x96.py')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('refine_file')
    data = write_coco(folder)
    results = results_of(data, noise=2.0)
    results[1]['score'] = 0  # not refined: kept in place, with why
    return dict(
        data=data,
        results=results,
        input=write_results(folder / 'in.json', results),
        checkpoint=save_model(CONFIG, folder / 'refiner.pth'),
        other=save_model(OTHER, folder / 'other.pth'),
        folder=folder)


def test_returns_what_it_wrote_and_says_the_skips(files, tmp_path):
    said = []
    out = tmp_path / 'out.json'
    result = refine_results_file(
        CONFIG, files['input'], files['data']['img_dir'], str(out),
        files['checkpoint'], ann=files['data']['ann'], log=said.append)
    n = len(files['results'])
    assert isinstance(result, RefinedFile)
    assert (result.refined, result.written, result.scored) == (n - 1, n, n)
    assert result.pictures is None
    assert set(result.table) == {'input', 'refined'}
    written = json.loads(out.read_text())
    assert len(written) == n and written[1]['not_refined']
    assert [e['image_id'] for e in written] == [
        e['image_id'] for e in files['results']]
    assert len(said) == 1 and said[0].startswith('skipped')


BAD = {
    'vis size': (dict(vis_size=10), '--vis-size must be >= 64'),
    'batch size': (dict(batch_size=0), '--batch-size must be >= 1'),
    'no checkpoint': (dict(checkpoint=None), 'CHECKPOINT is required'),
    'onnx with torch': (dict(onnx='x.onnx'), '--onnx needs --backend'),
    'onnxruntime without file': (dict(backend='onnxruntime',
                                      checkpoint=None), 'needs --onnx FILE'),
    'onnxruntime with checkpoint': (dict(backend='onnxruntime',
                                         onnx='x.onnx'),
                                    'CHECKPOINT is not used'),
    'onnxruntime with model options': (dict(
        backend='onnxruntime', onnx='x.onnx', checkpoint=None,
        cfg_options={'model.test_cfg.flip_test': False}), 'change the model'),
    'config': (dict(config='nope.py'), 'CONFIG: no file nope.py'),
    'input': (dict(input='nope.json'), '--input: no file nope.json'),
    'ann': (dict(ann='nope.json'), '--ann: no file nope.json'),
    'checkpoint file': (dict(checkpoint='nope.pth'),
                        'CHECKPOINT: no file nope.pth'),
    'img dir': (dict(img_dir='nope/'), '--img-dir: no folder nope/'),
    'out folder': (dict(out='{folder}'), 'is a folder'),
    'out is input': (dict(out='{input}'), 'refusing to overwrite'),
    'vis dir a file': (dict(vis_dir='{input}'), 'is a file, not a folder'),
    'another model': (dict(checkpoint='{other}'), 'does not fit'),
}


@pytest.mark.parametrize('change, message', BAD.values(), ids=BAD.keys())
def test_bad_arguments_refused_nothing_written(files, tmp_path, change,
                                               message):
    out = str(tmp_path / 'out.json')
    kwargs = dict(
        config=CONFIG, input=files['input'],
        img_dir=files['data']['img_dir'], out=out,
        checkpoint=files['checkpoint'])
    kwargs.update({
        k: v.format(**files) if isinstance(v, str) else v
        for k, v in change.items()
    })
    with pytest.raises(RefineFileError, match=message) as error:
        refine_results_file(**kwargs)
    assert error.value.exit_code == 1
    assert not osp.exists(out)


def test_not_json_names_the_file(files, tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"not": "a list"')
    with pytest.raises(RefineFileError, match=str(bad)):
        refine_results_file(CONFIG, str(bad), files['data']['img_dir'],
                            str(tmp_path / 'out.json'), files['checkpoint'])


def test_strict_refuses_a_skip(files, tmp_path):
    out = tmp_path / 'out.json'
    with pytest.raises(RefineFileError, match='(?s)--strict: .*score <= 0'):
        refine_results_file(CONFIG, files['input'], files['data']['img_dir'],
                            str(out), files['checkpoint'], strict=True)
    assert not out.exists()


def test_images_elsewhere_exit_code_two(files, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    path = write_results(tmp_path / 'in.json', results_of(files['data']))
    with pytest.raises(RefineFileError, match='holds none of the images') \
            as error:
        refine_results_file(CONFIG, path, str(empty),
                            str(tmp_path / 'out.json'), files['checkpoint'])
    assert error.value.exit_code == 2


def test_kept_joints_are_the_input_points_exactly(files, tmp_path):
    """A gate no joint passes keeps every present joint: the refined file
    holds the input's points exactly, and marks no joint refined."""
    out = tmp_path / 'out.json'
    refine_results_file(
        CONFIG, files['input'], files['data']['img_dir'], str(out),
        files['checkpoint'], cfg_options={'model.test_cfg.gate': {'ks': 2.0}})
    for entry, given in zip(json.loads(out.read_text()), files['results']):
        if 'not_refined' in entry:
            continue
        kpts = np.reshape(entry['keypoints'], (17, 3))
        given = np.reshape(given['keypoints'], (17, 3))
        np.testing.assert_array_equal(kpts[:, :2], given[:, :2])
        np.testing.assert_allclose(kpts[:, 2], given[:, 2], atol=1e-6)
        assert entry['keypoints_refined'] == []


def test_pictures_and_heatmap_scores(files, tmp_path):
    out, vis = tmp_path / 'out.json', tmp_path / 'vis'
    result = refine_results_file(
        CONFIG, files['input'], files['data']['img_dir'], str(out),
        files['checkpoint'], vis_dir=str(vis), keypoint_score='heatmap')
    assert result.pictures == result.refined == len(list(vis.iterdir()))
    for entry in json.loads(out.read_text()):
        if 'not_refined' not in entry:
            scores = entry['keypoints'][2::3]
            assert scores == pytest.approx(entry['keypoint_peaks'], abs=1e-4)
