"""BlazePoseBackbone: shapes, the pretrained image path unchanged by the
zero-initialised pose channels, and the head's final layer from chosen
rows of a pretrained heatmap layer (weights made here)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from posefix_mm.models.backbones import BLAZEPOSE_TO_COCO, BlazePoseBackbone


def converted_state(seed: int = 0) -> dict:
    """A 3-channel BlazePose state dict with a 39-landmark heatmap layer,
    as tools/convert_blazepose.py writes it (random weights)."""
    torch.manual_seed(seed)
    state = dict(BlazePoseBackbone(in_channels=3).state_dict())
    state['heatmap.weight'] = torch.randn(39, 48, 1, 1)
    state['heatmap.bias'] = torch.randn(39)
    return dict(state_dict=state, meta={})


def stride_4_head(pretrained_final_layer: dict):
    """PoseFixHead on BlazePose's 48 stride-4 channels, with the input
    prior, its final layer from ``pretrained_final_layer``."""
    init_default_scope('mmpose')
    return MODELS.build(
        dict(
            type='PoseFixHead',
            in_channels=48,
            out_channels=17,
            num_deconvs=0,
            skip_channels=None,
            input_prior_beta=1.0,
            pretrained_final_layer=pretrained_final_layer,
            decoder=dict(
                type='PoseFixLabel', input_size=(96, 128),
                heatmap_size=(24, 32))))


@pytest.fixture
def pretrained_file(tmp_path):
    path = tmp_path / 'blazepose.pth'
    torch.save(converted_state(), path)
    return str(path)


@pytest.mark.parametrize('size', [(256, 256), (256, 192), (128, 96)])
def test_stride_4_features(size):
    feats = BlazePoseBackbone(in_channels=20)(torch.zeros(2, 20, *size))
    assert len(feats) == 1
    assert feats[0].shape == (2, 48, size[0] // 4, size[1] // 4)


def test_pose_channels_start_at_zero_image_path_unchanged(pretrained_file):
    image_only = BlazePoseBackbone(in_channels=3, pretrained=pretrained_file)
    image_only.init_weights()
    with_pose = BlazePoseBackbone(in_channels=20, pretrained=pretrained_file)
    with_pose.init_weights()
    stem = with_pose.stem[0].weight
    assert torch.equal(stem[:, 3:], torch.zeros_like(stem[:, 3:]))
    assert torch.equal(stem[:, :3],
                       converted_state()['state_dict']['stem.0.weight'])
    torch.manual_seed(1)
    image = torch.rand(2, 3, 128, 96)
    pose_maps = torch.rand(2, 17, 128, 96)
    expected = image_only(image)[0]
    got = with_pose(torch.cat([image, pose_maps], 1))[0]
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_wrong_weights_named(tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, path)
    backbone = BlazePoseBackbone(in_channels=20, pretrained=str(path))
    with pytest.raises(KeyError, match='stem.0.weight'):
        backbone.init_weights()


def test_head_final_layer_from_pretrained_rows(pretrained_file):
    rows = list(BLAZEPOSE_TO_COCO)
    head = stride_4_head(dict(checkpoint=pretrained_file, rows=rows))
    head.init_weights()
    state = converted_state()['state_dict']
    assert torch.equal(head.final_layer.weight, state['heatmap.weight'][rows])
    assert torch.equal(head.final_layer.bias, state['heatmap.bias'][rows])
    assert len(head.deconvs) == 0


@pytest.mark.parametrize('case, kwargs, match', [
    ('one row short', dict(rows=list(range(16))), '16 rows'),
    ('no heatmap keys', dict(rows=list(range(17)), prefix='final.'),
     'final.weight'),
])
def test_head_final_layer_bad_rows(pretrained_file, case, kwargs, match):
    head = stride_4_head(dict(checkpoint=pretrained_file, **kwargs))
    with pytest.raises((KeyError, ValueError), match=match):
        head.init_weights()


def test_num_deconvs_needs_no_skips():
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match='skip_channels=None'):
        MODELS.build(
            dict(type='PoseFixHead', in_channels=48, out_channels=17,
                 num_deconvs=0))


def test_missing_weights_say_how_to_make_them(tmp_path, monkeypatch):
    backbone = BlazePoseBackbone(
        in_channels=20, pretrained=str(tmp_path / 'none.pth'))
    with pytest.raises(FileNotFoundError,
                       match='none.pth; make it with `make setup`.*'
                       'mim run posefix_mm convert_blazepose'):
        backbone.init_weights()
    # the configs' posefix_mm:// names a file of the user's folder, which
    # POSEFIX_MM_HOME moves
    monkeypatch.setenv('POSEFIX_MM_HOME', str(tmp_path / 'home'))
    backbone = BlazePoseBackbone(
        in_channels=20, pretrained='posefix_mm://pretrained/w.pth')
    with pytest.raises(FileNotFoundError) as error:
        backbone.init_weights()
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert f'no file {tmp_path}/home/pretrained/w.pth' in message
    assert f'POSEFIX_MM_HOME: {tmp_path}/home' in message


def test_posefix_mm_paths_follow_the_home_folder(tmp_path, monkeypatch):
    from posefix_mm.utils.paths import pretrained_file, resolve_path
    monkeypatch.delenv('POSEFIX_MM_HOME', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    assert resolve_path('posefix_mm://a/b.pth') == str(
        tmp_path / 'cache' / 'posefix_mm' / 'a' / 'b.pth')
    assert resolve_path('/elsewhere/b.pth') == '/elsewhere/b.pth'
    monkeypatch.setenv('POSEFIX_MM_HOME', str(tmp_path / 'mine'))
    (tmp_path / 'mine' / 'a').mkdir(parents=True)
    (tmp_path / 'mine' / 'a' / 'b.pth').write_bytes(b'x')
    assert pretrained_file('posefix_mm://a/b.pth', 'w') == str(
        tmp_path / 'mine' / 'a' / 'b.pth')
