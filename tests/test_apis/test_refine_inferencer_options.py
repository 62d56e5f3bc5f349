"""RefineInferencer's MMPose options on images built in memory: given
boxes, tracking across a video's frames, pose-based NMS, skeleton styles,
heatmaps, split results, config names of MMPose's package, and pictures of
a 2D model with low scores."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from posefix_mm.apis import RefineInferencer
from posefix_mm.apis.inferencers.utils import mmpose_config, resolve_pose2d
from ..conftest import REPO_ROOT, save_model
from ..synthetic import draw_person, person
from ..test_deploy.test_onnx_refiner import make_moving

BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'baselines',
                       'td-hm_res18_coco-mini-128x96.py')
REFINER_CONFIG = osp.join(REPO_ROOT, 'configs',
                          'posefix_r18_coco-mini-lspet-128x96.py')
#: two persons of the picture, x1 y1 x2 y2
BOXES = np.array([[10, 10, 110, 215], [150, 5, 250, 210]], np.float32)


def _picture(shift: float = 0.) -> np.ndarray:
    img = np.full((240, 320, 3), 30, np.uint8)
    for x, y in ((20 + shift, 20), (160 + shift, 15)):
        draw_person(img, person(x, y, 0.9))
    return img


def moving_inferencer(folder) -> RefineInferencer:
    """A random 2D model (its joint scores are near 0) and a refiner that
    moves joints (seed 0), their checkpoints saved in ``folder``."""
    torch.manual_seed(0)
    return RefineInferencer(
        BASE_CONFIG,
        save_model(BASE_CONFIG, folder / 'base.pth'),
        refiner=REFINER_CONFIG,
        refiner_weights=save_model(REFINER_CONFIG, folder / 'refiner.pth',
                                   make_moving),
        device='cpu')


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory):
    return moving_inferencer(tmp_path_factory.mktemp('weights'))


def test_whole_image_default_says_so(inferencer, caplog):
    """A top-down 2D model without detector and boxes: one line says that
    each image is one person and how to pass boxes or a detector."""
    import logging
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            [whole] = inferencer(_picture())
            said = [r.getMessage() for r in caplog.records]
            caplog.clear()
            inferencer(_picture(), bboxes=[BOXES])
            with_boxes = [r.getMessage() for r in caplog.records]
    finally:
        logger.removeHandler(caplog.handler)
    notices = [m for m in said if 'no person detector and no boxes' in m]
    assert len(notices) == 1 and len(notices[0].splitlines()) == 1
    assert 'bboxes=' in notices[0] and '--det-model' in notices[0]
    assert len(whole['predictions'][0]) == 1  # one pose for two persons
    assert not any('no person detector' in m for m in with_boxes)


def test_given_boxes_without_a_detector(inferencer):
    [result] = inferencer(_picture(), bboxes=[BOXES])
    refined = result['predictions'][0]
    assert len(refined) == 2
    np.testing.assert_allclose([r['bbox'][0] for r in refined], BOXES)
    # each person's pose in its box (its mean; the crop is 1.25x the box)
    for r, box in zip(result['input_predictions'][0], BOXES):
        center = np.asarray(r['keypoints']).mean(0)
        assert (center >= box[:2]).all() and (center <= box[2:]).all()


def test_track_ids_follow_the_persons_across_frames(inferencer, tmp_path):
    """A video of three frames whose boxes come in another order each
    frame: the ids follow the boxes (IoU), the same in the saved JSON."""
    video = str(tmp_path / 'walk.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (320, 240))
    for shift in (0, 2, 4):
        writer.write(_picture(shift))
    writer.release()
    moved = BOXES + [2, 0, 2, 0]
    orders = [[0, 1], [1, 0], [0, 1]]
    boxes = [BOXES[o] if i == 0 else moved[o] for i, o in enumerate(orders)]
    results = list(
        inferencer(video, bboxes=boxes, pred_out_dir=str(tmp_path / 'p')))
    ids = [[r['track_id'] for r in res['predictions'][0]]
           for res in results]
    first = dict(zip(orders[0], ids[0]))
    assert sorted(ids[0]) == [0, 1]
    for order, frame_ids in zip(orders, ids):
        assert frame_ids == [first[o] for o in order]
    saved = json.loads((tmp_path / 'p' / 'walk.json').read_text())
    assert [[i['track_id'] for i in f['instances']] for f in saved] == ids


def test_oks_tracking(inferencer):
    [result] = inferencer(_picture(), bboxes=[BOXES], use_oks_tracking=True,
                          tracking_thr=0.5)
    assert sorted(r['track_id'] for r in result['predictions'][0]) == [0, 1]


def test_pose_based_nms_drops_a_duplicate(inferencer):
    """The same box twice: MMPose's pose-based NMS keeps one pose."""
    twice = np.concatenate([BOXES[:1], BOXES[:1]])
    [plain] = inferencer(_picture(), bboxes=[twice])
    [nms] = inferencer(_picture(), bboxes=[twice], pose_based_nms=True)
    assert len(plain['predictions'][0]) == 2
    assert len(nms['predictions'][0]) == len(nms['input_predictions'][0]) \
        == 1


def test_split_results_and_one_file(inferencer, tmp_path):
    [result] = inferencer(_picture(), bboxes=[BOXES], merge_results=False,
                          pred_out_dir=str(tmp_path))
    assert [len(p) for p in result['predictions']] == [1, 1]
    # both instances in the image's file (not one overwriting the other)
    saved = json.loads((tmp_path / '000000.json').read_text())
    assert len(saved) == 2


def _drawn(picture: np.ndarray, image: np.ndarray) -> int:
    """Pixels changed below the legend strip (30 rows)."""
    return int((picture[30:, :, ::-1] != image[30:]).any(-1).sum())


def test_low_score_2d_model_still_shows_the_refined_joints(inferencer):
    """The random 2D model scores its joints near 0, below kpt_thr 0.3:
    the joints the refiner placed are drawn all the same; those its
    decision keeps at the 2D point are drawn by their score, as MMPose
    would draw the 2D model's."""
    img = _picture()
    test_cfg = inferencer.model.test_cfg
    original, drawn = test_cfg['decision_thr'], {}
    for thr in (0.0, 1.0):  # every joint refined; every joint kept
        test_cfg['decision_thr'] = thr
        [result] = inferencer(img, bboxes=[BOXES], return_vis=True)
        drawn[thr] = _drawn(result['visualization'][0], img)
    test_cfg['decision_thr'] = original
    scores = np.asarray(result['predictions'][0][0]['keypoint_scores'])
    assert scores.max() < 0.3
    # two persons, 17 joints each (a disc of radius 3: ~29 px), limbs
    assert drawn[0.0] > 2 * 17 * 25
    assert drawn[1.0] == 0


def test_skeleton_style_and_heatmap(inferencer):
    img = _picture()
    test_cfg = inferencer.model.test_cfg
    original, test_cfg['decision_thr'] = test_cfg['decision_thr'], 0.0
    try:  # every joint refined, so drawn whatever the random 2D scores
        [mmpose_style] = inferencer(img, bboxes=[BOXES], return_vis=True)
        [openpose] = inferencer(img, bboxes=[BOXES], return_vis=True,
                                skeleton_style='openpose')
    finally:
        test_cfg['decision_thr'] = original
    a, b = mmpose_style['visualization'][0], openpose['visualization'][0]
    assert a.shape == b.shape and (a != b).any()
    [heat] = inferencer(img, bboxes=[BOXES], return_vis=True,
                        draw_heatmap=True)
    # MMPose's layout: the heatmaps below the picture
    assert heat['visualization'][0].shape[0] == 2 * img.shape[0]
    with pytest.raises(ValueError, match='skeleton_style'):
        next(inferencer(img, skeleton_style='coco'))


def test_config_names_of_mmpose_resolve_locally():
    name = 'td-hm_hrnet-w32_8xb64-210e_coco-256x192'
    path = mmpose_config(name)
    assert path.endswith(name + '.py') and osp.isfile(path)
    assert resolve_pose2d(name) == path == resolve_pose2d(name + '.py')
    assert resolve_pose2d(BASE_CONFIG) == BASE_CONFIG
    assert mmpose_config('no-such-config') is None
    assert mmpose_config('../td-hm_hrnet-w32_8xb64-210e_coco-256x192') \
        is None
    with pytest.raises(FileNotFoundError,
                       match="alias of rtmpose-m_8xb256-420e_body8"):
        resolve_pose2d('human')


@pytest.mark.parametrize('bboxes, message', [
    ([BOXES], r'got 1 for 2 inputs'),
    ([BOXES, [[10, 10, np.nan, 50]]], r'bboxes\[1\]\[0\]: .* not a finite'),
    ([BOXES, [[10, 10, 5, 50]]], r'bboxes\[1\]\[0\]: .*x2 > x1'),
    ([BOXES, [[10, 10, 50]]], r'bboxes\[1\]: boxes are x1 y1 x2 y2'),
    ([BOXES, [['a', 'b', 'c', 'd']]], r'bboxes\[1\]: not a list of boxes'),
])
def test_bad_boxes_refused_before_any_output(inferencer, tmp_path, bboxes,
                                             message):
    out = tmp_path / 'preds'
    with pytest.raises(ValueError, match=message):
        list(inferencer([_picture(), _picture(2)], bboxes=bboxes,
                        pred_out_dir=str(out)))
    assert not out.exists() or not any(out.iterdir())


def test_base_configs_are_no_model_names():
    # MMPose's dataset metainfo (_base_/datasets/coco.py) is no model
    assert mmpose_config('coco') is None


def test_command_line_lists_the_aliases(capsys):
    from ..conftest import run_tool
    assert run_tool('refine_inferencer', ['--show-alias']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 'config (--pose2d NAME' in lines[0]
    assert any(line.split() == ['human', 'rtmpose-m_8xb256-420e_body8-256x192']
               for line in lines)


def _video(path, frames: int) -> str:
    """An mp4 of ``frames`` drawn frames (0: a file without frames)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 5,
                             (320, 240))
    for i in range(frames):
        writer.write(_picture(shift=4 * i))
    writer.release()
    return str(path)


def test_damaged_and_empty_inputs_named_before_work(inferencer, tmp_path):
    whole = _video(tmp_path / 'whole.mp4', 4)
    data = open(whole, 'rb').read()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) // 2])
    frameless = _video(tmp_path / 'frameless.mp4', 0)
    empty = tmp_path / 'empty'
    empty.mkdir()
    odd = tmp_path / 'odd'
    odd.mkdir()
    cv2.imwrite(str(odd / 'a.jpg'), _picture())
    (odd / 'NOTES').write_text('no extension')
    out = tmp_path / 'preds'
    for path, message in ((cut, 'no frame can be read'),
                          (frameless, 'no frame can be read'),
                          (empty, 'a folder without images'),
                          (odd, 'NOTES are no image files')):
        with pytest.raises(ValueError) as error:
            list(inferencer(str(path), pred_out_dir=str(out)))
        assert f'{path}: {message}' in str(error.value)
        assert len(str(error.value).splitlines()) == 1
        assert not out.exists()  # nothing half-written
    # the whole video is read: a result per frame
    assert len(list(inferencer(whole, bboxes=[BOXES] * 4))) == 4


def test_command_line_names_a_damaged_video(inferencer, tmp_path):
    from ..conftest import run_tool
    whole = _video(tmp_path / 'whole.mp4', 2)
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(open(whole, 'rb').read()[:300])
    weights = tmp_path / 'w'
    weights.mkdir()
    with pytest.raises(SystemExit, match=f'error: .*{cut}: no frame'):
        run_tool('refine_inferencer', [
            cut, '--pose2d', BASE_CONFIG, '--pose2d-weights',
            save_model(BASE_CONFIG, weights / 'base.pth'), '--refiner',
            REFINER_CONFIG, '--refiner-weights',
            save_model(REFINER_CONFIG, weights / 'refiner.pth'),
            '--pred-out-dir', tmp_path / 'preds'
        ])
    assert not (tmp_path / 'preds').exists()


@pytest.mark.parametrize('flag', [['--num-instances', '2'],
                                  ['--disable-norm-pose-2d'],
                                  ['--disable-rebase-keypoint']])
def test_lifting_flags_refused_with_a_reason(flag, tmp_path, capsys):
    """MMPose's demo flags of 3D lifting: one line saying why, exit 2."""
    from ..conftest import run_tool
    assert run_tool('refine_inferencer', [
        tmp_path / 'x.jpg', '--pose2d', BASE_CONFIG, '--refiner',
        REFINER_CONFIG, *flag
    ]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f'{flag[0]}: options of MMPose\'s 3D lifting' in err
