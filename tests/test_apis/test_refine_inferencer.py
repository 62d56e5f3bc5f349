"""RefineInferencer end to end on real coco_mini images, fully offline, with
randomly initialised models saved locally."""
import contextlib
import glob
import json
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest

from posefix_mm.apis import RefineInferencer
from ..conftest import REPO_ROOT, random_last_layer, save_model

BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'baselines',
                       'td-hm_res18_coco-mini-128x96.py')
REFINER_CONFIG = osp.join(REPO_ROOT, 'configs',
                          'posefix_r18_coco-mini-128x96.py')


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp('weights')
    return dict(
        pose2d=save_model(BASE_CONFIG, folder / 'base.pth', init=False),
        refiner=save_model(REFINER_CONFIG, folder / 'refiner.pth',
                           init=False))


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
        # plain JSON types throughout (MMPose's results hold float32)
        json.dumps(dict(result, visualization=None), allow_nan=False)


@pytest.fixture(scope='module')
def inferencer(weights):
    return RefineInferencer(
        BASE_CONFIG, weights['pose2d'], refiner=REFINER_CONFIG,
        refiner_weights=weights['refiner'], det_model='whole_image',
        device='cpu')


def test_images_pictures_and_predictions_named_after_inputs(
        inferencer, images, tmp_path):
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    results = list(
        inferencer(images, vis_out_dir=str(vis), pred_out_dir=str(preds)))
    _check(results, len(images))
    names = [osp.splitext(osp.basename(p))[0] for p in images]
    assert sorted(os.listdir(vis)) == sorted(n + '.jpg' for n in names)
    assert sorted(os.listdir(preds)) == sorted(n + '.json' for n in names)
    for path, name, result in zip(images, names, results):
        saved = json.loads((preds / f'{name}.json').read_text())
        assert saved == json.loads(json.dumps(result['predictions'][0]))
        picture = cv2.imread(str(vis / f'{name}.jpg'))
        assert picture.shape == cv2.imread(path).shape


def test_refined_differ_from_input_where_the_refiner_moves(inferencer,
                                                          images):
    [result] = list(inferencer(images[:1]))
    refined = np.array([p['keypoints'] for p in result['predictions'][0]])
    base = np.array(
        [p['keypoints'] for p in result['input_predictions'][0]])
    # an untrained refiner without input prior moves every joint
    assert np.abs(refined - base).max() > 1


def test_folder(inferencer, images, tmp_path):
    folder = tmp_path / 'folder'
    folder.mkdir()
    for path in images:
        os.symlink(path, folder / osp.basename(path))
    (folder / 'notes.txt').write_text('not an image')
    results = list(inferencer(str(folder), pred_out_dir=str(tmp_path / 'p')))
    _check(results, len(images))
    assert len(os.listdir(tmp_path / 'p')) == len(images)


def _write_video(path, images, frames=3):
    first = cv2.imread(images[0])
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5, (w, h))
    for i in range(frames):
        writer.write(cv2.resize(cv2.imread(images[i % len(images)]), (w, h)))
    writer.release()


def test_video_in_video_out(inferencer, images, tmp_path):
    video = tmp_path / 'clip.mp4'
    _write_video(video, images)
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    results = list(
        inferencer(str(video), vis_out_dir=str(vis),
                   pred_out_dir=str(preds)))
    _check(results, 3)
    assert os.listdir(vis) == ['clip.mp4']
    assert mmcv.VideoReader(str(vis / 'clip.mp4')).frame_cnt == 3
    saved = json.loads((preds / 'clip.json').read_text())
    assert [f['frame_id'] for f in saved] == [0, 1, 2]
    for frame, result in zip(saved, results):
        assert frame['instances'] == json.loads(
            json.dumps(result['predictions'][0]))


def test_array_return_vis_and_datasamples(inferencer, images):
    img = cv2.imread(images[0])
    [result] = list(inferencer(img, return_vis=True))
    _check([result], 1)
    [picture] = result['visualization']
    assert picture.shape == img.shape
    [result] = list(inferencer(img, return_datasamples=True))
    [refined] = result['predictions']
    [base] = result['input_predictions']
    np.testing.assert_allclose(refined.pred_instances.input_keypoints,
                               base.pred_instances.keypoints)


def test_alias_is_an_error_not_a_download():
    with pytest.raises(FileNotFoundError,
                       match="pose2d: 'human' is not a local config"):
        RefineInferencer('human', refiner=REFINER_CONFIG)


def test_webcam_without_camera_yields_nothing(inferencer):
    if cv2.VideoCapture(0).isOpened():
        pytest.skip('this machine has a camera')
    assert list(inferencer('webcam')) == []


def test_with_mmdet_detector(weights, images, tmp_path):
    det_config = osp.join(
        osp.dirname(__import__('mmdet').__file__), '.mim', 'configs',
        'rtmdet', 'rtmdet_tiny_8xb32-300e_coco.py')
    det_weights = save_model(det_config, tmp_path / 'rtmdet.pth',
                             scope='mmdet', init=False)
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


@pytest.mark.parametrize('missing', [('pose2d_weights', ),
                                     ('refiner_weights', ),
                                     ('pose2d_weights', 'refiner_weights')])
def test_no_silent_random_weights(weights, missing):
    from posefix_mm.apis.inferencers.utils import MissingWeights
    kwargs = dict(
        pose2d=BASE_CONFIG, pose2d_weights=weights['pose2d'],
        refiner=REFINER_CONFIG, refiner_weights=weights['refiner'],
        device='cpu')
    for field in missing:
        kwargs[field] = None
    with pytest.raises(MissingWeights,
                       match=' and '.join(missing) + ': no checkpoint'):
        RefineInferencer(**kwargs)
    # asked for by name, untrained models run
    with pytest.warns(UserWarning, match='untrained') if (
            'refiner_weights' in missing) else contextlib.nullcontext():
        RefineInferencer(**kwargs, random_weights=True)


def test_command_line_without_weights_refused(images, tmp_path, capsys):
    from ..conftest import run_tool
    with pytest.raises(SystemExit) as e:
        run_tool('refine_inferencer', [
            images[0], '--pose2d', BASE_CONFIG, '--refiner', REFINER_CONFIG,
            '--pred-out-dir', tmp_path / 'preds'
        ])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'pose2d_weights and refiner_weights: no checkpoint' in err
    assert '--random-weights' in err
    assert not (tmp_path / 'preds').exists()


def test_unreadable_image_named(inferencer, tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=f'cannot read image {empty}'):
        list(inferencer(str(empty)))


def test_missing_input_refused_before_work(inferencer, images, tmp_path):
    with pytest.raises(FileNotFoundError, match='no file or folder .*gone'):
        list(inferencer([images[0], str(tmp_path / 'gone.jpg')]))


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


def test_command_line_end_to_end(weights, images, tmp_path):
    from ..conftest import run_tool
    folder = tmp_path / 'in'
    folder.mkdir()
    for path in images:
        os.symlink(path, folder / osp.basename(path))
    assert run_tool('refine_inferencer', [
        folder, '--pose2d', BASE_CONFIG, '--pose2d-weights',
        weights['pose2d'], '--refiner', REFINER_CONFIG, '--refiner-weights',
        weights['refiner'], '--device', 'cpu', '--vis-out-dir',
        tmp_path / 'vis', '--pred-out-dir', tmp_path / 'preds'
    ]) == 0
    names = sorted(osp.splitext(osp.basename(p))[0] for p in images)
    assert sorted(os.listdir(tmp_path / 'vis')) == [n + '.jpg' for n in names]
    for name in names:
        saved = json.loads((tmp_path / 'preds' / f'{name}.json').read_text())
        assert len(saved) >= 1 and len(saved[0]['keypoints']) == 17


def test_command_line_alias_refused(weights, images):
    from ..conftest import run_tool
    with pytest.raises(SystemExit, match="pose2d: 'human' is not a local"):
        run_tool('refine_inferencer', [
            images[0], '--pose2d', 'human', '--refiner', REFINER_CONFIG
        ])


def test_mim_run(weights, images, tmp_path, venv_bin):
    import subprocess
    proc = subprocess.run([
        osp.join(venv_bin, 'mim'), 'run', 'posefix_mm', 'refine_inferencer',
        images[0], '--pose2d', BASE_CONFIG, '--pose2d-weights',
        weights['pose2d'], '--refiner', REFINER_CONFIG, '--refiner-weights',
        weights['refiner'], '--device', 'cpu', '--pred-out-dir',
        str(tmp_path)
    ], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name = osp.splitext(osp.basename(images[0]))[0]
    assert osp.isfile(tmp_path / f'{name}.json')


def test_calibrated_config_reaches_the_refiner(weights, images, tmp_path):
    """A config written by the calibration (tools/decision_report.py
    --save) is a refiner config: its threshold decides the refined joints
    (0.0: every joint refined, 1.0: every present joint kept)."""
    from posefix_mm.evaluation.calibration import calibrated_config
    demo = osp.join(REPO_ROOT, 'configs',
                    'posefix_r18_coco-mini-lspet-128x96.py')
    refiner_weights = save_model(demo, tmp_path / 'refiner.pth',
                                 random_last_layer)  # it moves joints
    moved = {}
    for thr in (0.0, 1.0):
        config = tmp_path / f'calibrated_{thr}.py'
        config.write_text(calibrated_config(demo, thr))
        inferencer = RefineInferencer(
            BASE_CONFIG, weights['pose2d'], refiner=str(config),
            refiner_weights=refiner_weights, det_model='whole_image')
        [result] = list(inferencer(images[:1]))
        refined = np.array([p['keypoints'] for p in result['predictions'][0]])
        base = np.array(
            [p['keypoints'] for p in result['input_predictions'][0]])
        moved[thr] = np.abs(refined - base).max()
    assert moved[0.0] > 1
    assert moved[1.0] < 1e-2


def test_unreadable_image_in_a_folder_skipped_and_named(inferencer, images,
                                                        tmp_path):
    """As tools/refine.py: the readable images are refined and written, the
    unreadable one is a named skip (not an error after half the work)."""
    folder = tmp_path / 'images'
    folder.mkdir()
    for path in images:
        os.symlink(path, folder / osp.basename(path))
    (folder / 'broken.jpg').write_bytes(b'not a jpg')
    preds = tmp_path / 'preds'
    results = list(inferencer(str(folder), pred_out_dir=str(preds)))
    assert len(results) == len(images)
    assert inferencer.skipped_images == [str(folder / 'broken.jpg')]
    assert sorted(os.listdir(preds)) == sorted(
        osp.splitext(osp.basename(p))[0] + '.json' for p in images)
