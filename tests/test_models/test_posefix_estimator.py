import copy

import numpy as np
import pytest
import torch

from posefix_mm.codecs import bilinear_one_hot
from posefix_mm.models.losses import SoftmaxHeatmapCELoss
from .conftest import build_model


def test_heatmap_loss_is_minimal_at_target():
    gen = torch.Generator().manual_seed(0)
    coords = np.array([[3.3, 7.8], [10.0, 2.5], [0.2, 15.9]])
    target = torch.from_numpy(
        bilinear_one_hot(coords, np.ones(3, bool), (12, 16)))[None]
    loss = SoftmaxHeatmapCELoss()
    weights = torch.ones(1, 3)
    best = torch.log(target + 1e-12).requires_grad_()
    at_target = loss(best, target, weights)
    at_target.backward()
    assert best.grad.abs().max() < 1e-6  # a stationary point
    for _ in range(20):
        other = best.detach() + torch.randn(best.shape, generator=gen)
        assert loss(other, target, weights) > at_target


def test_gradients_reach_backbone_and_head(small_cfg, real_batch):
    model = build_model(small_cfg)
    data = model.data_preprocessor(copy.deepcopy(real_batch), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'loss_heatmap', 'loss_coord'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    stem = model.backbone.conv1.weight.grad
    assert stem[:, :3].abs().sum() > 0  # image channels
    assert stem[:, 3:].abs().sum() > 0  # input-pose channels
    assert model.head.final_layer.weight.grad.abs().sum() > 0
    for skip in model.head.skips:
        assert skip[0].weight.grad.abs().sum() > 0


def test_small_model_overfits_one_real_batch(small_cfg, real_batch):
    torch.manual_seed(0)
    model = build_model(small_cfg)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(real_batch), training=True)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(60):
        losses = model(**data, mode='loss')
        loss = losses['loss_heatmap'] + losses['loss_coord']
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append(loss.item())
    assert history[-1] < 0.5 * history[0], history[::10]


def _mirrored(inputs, sample):
    """The horizontally mirrored image and input pose (joints swapped)."""
    flip = sample.metainfo['flip_indices']
    w = inputs.shape[-1]
    mirrored = copy.deepcopy(sample)
    kpts = sample.gt_instances.input_keypoints.copy()[:, flip]
    kpts[..., 0] = w - 1 - kpts[..., 0]
    mirrored.gt_instances.input_keypoints = kpts
    mirrored.gt_instances.input_keypoints_visible = \
        sample.gt_instances.input_keypoints_visible[:, flip]
    return inputs.flip(-1), mirrored


def _identity_meta(sample, w, h):
    """Predictions in crop coordinates: image = crop."""
    sample.set_metainfo(
        dict(
            input_size=(w, h),
            input_center=np.array([w / 2, h / 2]),
            input_scale=np.array([w, h])))
    return sample


@pytest.mark.parametrize('prior', [None, 1.0])
def test_flip_test_is_mirror_equivariant(small_cfg, real_batch, prior):
    torch.manual_seed(0)
    model = build_model(small_cfg, input_prior_beta=prior)
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(real_batch), training=False)
    inputs, samples = data['inputs'], data['data_samples']
    h, w = inputs.shape[-2:]
    samples = [_identity_meta(s, w, h) for s in samples]
    mirrored = [_mirrored(inputs[i:i + 1], s) for i, s in enumerate(samples)]
    m_inputs = torch.cat([m[0] for m in mirrored])
    m_samples = [_identity_meta(m[1], w, h) for m in mirrored]
    with torch.no_grad():
        out = model.predict(inputs, copy.deepcopy(samples))
        out_m = model.predict(m_inputs, m_samples)
    flip = samples[0].metainfo['flip_indices']
    for a, b in zip(out, out_m):
        expected = a.pred_instances.keypoints.copy()[:, flip]
        expected[..., 0] = w - 1 - expected[..., 0]
        np.testing.assert_allclose(b.pred_instances.keypoints, expected,
                                   atol=1e-3)


def test_untrained_input_prior_returns_input_pose(small_cfg, real_batch):
    model = build_model(small_cfg, input_prior_beta=1.0)
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(real_batch), training=False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    h, w = data['inputs'].shape[-2:]
    for sample in out:
        pred = sample.pred_instances
        crop = sample.gt_instances.input_keypoints
        # joints well inside the crop: the Gaussian prior's mean is its centre
        away = ((crop[..., 0] > 8) & (crop[..., 0] < w - 9) &
                (crop[..., 1] > 8) & (crop[..., 1] < h - 9))
        assert away.sum() >= 5
        err = np.linalg.norm(pred.keypoints - pred.input_keypoints, axis=-1)
        # in output (heatmap) pixels: image px -> crop px -> heatmap px
        crop_px = np.max(sample.metainfo['input_scale']) / max(w, h)
        err_hm = err / crop_px / model.head.decoder.stride[0]
        # a sampled Gaussian (sigma < 1 output px) and the eps floor of the
        # prior bias the mean slightly; it must stay far below a pixel
        assert np.all(err_hm[away] < 0.05), err_hm[away]


def test_predictions_carry_input_pose_in_image_coordinates(small_cfg):
    """Through the val pipeline (affine into the crop) and back."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS, TRANSFORMS
    model = build_model(small_cfg)
    model.eval()
    dataset = DATASETS.build(small_cfg.val_dataloader.dataset)
    synth = TRANSFORMS.build(dict(type='SynthesizePoseErrors', seed=0))
    idx = list(range(6))
    expected = [
        synth(dataset.get_data_info(i))['input_keypoints'] for i in idx
    ]
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in idx]), training=False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    for sample, exp in zip(out, expected):
        np.testing.assert_allclose(
            sample.pred_instances.input_keypoints, exp, atol=1e-2)


def test_pretrained_backbone_fills_image_channels(small_cfg, tmp_path):
    from mmpose.models.backbones import ResNet
    image_net = ResNet(depth=18)
    path = str(tmp_path / 'resnet18.pth')
    state = image_net.state_dict()
    state['fc.weight'] = torch.zeros(10, 512)  # torchvision has a classifier
    torch.save(state, path)
    cfg = copy.deepcopy(small_cfg)
    cfg.model.pretrained_backbone = path
    model = build_model(cfg)
    stem = model.backbone.conv1.weight
    torch.testing.assert_close(stem[:, :3], image_net.conv1.weight)
    assert stem[:, 3:].abs().sum() == 0
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight,
                               image_net.layer4[1].conv2.weight)
    cfg.model.pretrained_backbone = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        build_model(cfg)


def test_torchvision_scheme_uses_the_hub_cache(small_cfg, tmp_path,
                                               monkeypatch):
    """'torchvision://resnet18' as MMPose configs write it: here from a
    hub cache the test fills (no network), the stem as for a local file."""
    from mmpose.models.backbones import ResNet
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    image_net = ResNet(depth=18)
    torch.save(image_net.state_dict(), cache / 'resnet18-f37072fd.pth')
    cfg = copy.deepcopy(small_cfg)
    cfg.model.pretrained_backbone = 'torchvision://resnet18'
    model = build_model(cfg)
    torch.testing.assert_close(model.backbone.conv1.weight[:, :3],
                               image_net.conv1.weight)
    assert model.backbone.conv1.weight[:, 3:].abs().sum() == 0


def test_unreachable_weights_stop_with_how_to_pass_a_file(
        small_cfg, tmp_path, monkeypatch):
    import urllib.error
    import torch.hub
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # an empty cache

    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    cfg = copy.deepcopy(small_cfg)
    cfg.model.pretrained_backbone = 'torchvision://resnet18'
    with pytest.raises(RuntimeError, match='cannot fetch torchvision://'
                       'resnet18.*model.pretrained_backbone=/path/to/'):
        build_model(cfg)


def test_from_scratch_is_said(small_cfg):
    from mmengine.logging import MMLogger
    cfg = copy.deepcopy(small_cfg)
    cfg.model.pretrained_backbone = None
    logger = MMLogger.get_current_instance()
    records = []
    handler = type('H', (__import__('logging').Handler, ), dict(
        emit=lambda self, record: records.append(record.getMessage())))()
    logger.addHandler(handler)
    try:
        build_model(cfg)
    finally:
        logger.removeHandler(handler)
    assert any('starts from scratch' in m for m in records)


def test_gating_keeps_input_unless_near_or_confident():
    from mmpose.registry import MODELS
    from posefix_mm.utils.keypoint_similarity import ks_distance
    head = MODELS.build(
        dict(
            type='PoseFixHead',
            in_channels=8,
            out_channels=4,
            skip_channels=None,
            deconv_channels=8,
            decoder=dict(
                type='PoseFixLabel', input_size=(96, 128),
                heatmap_size=(24, 32))))
    sigmas = torch.full((4, ), 0.05)
    area = torch.tensor([[24 * 32 / 1.25**2]])  # heatmap pixels
    inp = torch.tensor([[[10., 10.], [30., 30.], [50., 50.], [70., 70.]]])
    visible = torch.tensor([[1, 1, 1, 0.]])
    d_half = float(ks_distance(0.5, area.item(), sigmas.numpy())[0])
    moved = inp / 4  # heatmap units (stride 4)
    moved[0, 0, 0] += 0.5 * d_half  # small: trusted
    moved[0, 1, 0] += 2.0 * d_half  # large, not confident: reverted
    moved[0, 2, 0] += 2.0 * d_half  # large but confident: trusted
    moved[0, 3, 0] += 2.0 * d_half  # absent input joint: never gated
    peaks = torch.tensor([[0.1, 0.1, 0.9, 0.1]])
    coords, gated = head._gate(moved.clone(), (inp, visible), peaks, area,
                               sigmas, ks=0.5, min_peak=0.5)
    np.testing.assert_array_equal(gated, [[False, True, False, False]])
    np.testing.assert_allclose(coords[0, 1], inp[0, 1] / 4)
    np.testing.assert_allclose(coords[0, [0, 2, 3]], moved[0, [0, 2, 3]])
    # without min_peak only the near joint (and the absent one) is trusted
    _, gated = head._gate(moved.clone(), (inp, visible), peaks, area, sigmas,
                          ks=0.5)
    np.testing.assert_array_equal(gated, [[False, True, True, False]])


@pytest.mark.parametrize('deep_stem', [False, True])
def test_features_are_the_backbone_on_image_and_rendered_pose(deep_stem):
    """The ResNet stem's split computation (pose_maps_conv) gives the
    features, and the gradients, of the backbone run on the image
    concatenated with the rendered maps; a deep stem takes the maps."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from posefix_mm.models.utils import render_gaussian_heatmaps
    from .conftest import SMALL_CONFIG
    init_default_scope('mmpose')
    cfg = Config.fromfile(SMALL_CONFIG).model
    cfg.pretrained_backbone = None
    cfg.backbone.deep_stem = deep_stem
    cfg.input_pose_scale = 2.0
    model = MODELS.build(cfg)
    torch.manual_seed(0)
    for p in model.backbone.parameters():
        torch.nn.init.normal_(p, std=0.1)
    assert model._separable_stem() is not deep_stem
    w, h = 96, 128
    image = torch.randn(2, 3, h, w)
    kpts = torch.rand(2, 17, 2) * torch.tensor([w, h])
    visible = (torch.rand(2, 17) > 0.3).float()
    feats = model.pose_features(image, kpts, visible)
    maps = render_gaussian_heatmaps(kpts, visible, (w, h),
                                    model.input_pose_sigma) * 2.0
    expected = model.backbone(torch.cat([image, maps], 1))
    assert len(feats) == len(expected) == 4
    for a, b in zip(feats, expected):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    stem = (model.backbone.stem[0].conv.weight if deep_stem else
            model.backbone.conv1.weight)
    grad, = torch.autograd.grad(feats[-1].sum(), stem)
    grad_expected, = torch.autograd.grad(expected[-1].sum(), stem)
    torch.testing.assert_close(grad, grad_expected, atol=1e-3, rtol=1e-4)
