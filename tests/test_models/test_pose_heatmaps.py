import pytest
import torch
import torch.nn.functional as F

from posefix_mm.models.utils import (pose_maps_conv, render_gaussian_heatmaps,
                                     soft_argmax, unflip_coordinates)


@pytest.mark.parametrize('x, y', [(0, 0), (5, 3), (23, 31), (11, 17)])
def test_soft_argmax_of_one_hot_is_its_position(x, y):
    logits = torch.full((1, 1, 32, 24), -1e4)
    logits[0, 0, y, x] = 0.
    coords, probs = soft_argmax(logits)
    torch.testing.assert_close(coords[0, 0], torch.tensor([x, y]).float())
    torch.testing.assert_close(probs.sum(), torch.tensor(1.))


def test_render_peaks_at_keypoint_and_zeroes_invisible():
    kpts = torch.tensor([[[10., 20.], [40., 5.]]])
    maps = render_gaussian_heatmaps(kpts, torch.tensor([[1., 0.]]), (48, 64),
                                    3.)
    assert maps.shape == (1, 2, 64, 48)
    assert maps[0, 0, 20, 10] == 1
    assert maps[0, 0].argmax() == 20 * 48 + 10
    assert maps[0, 1].abs().sum() == 0
    # sigma: at one sigma from the centre the value is exp(-1/2)
    torch.testing.assert_close(maps[0, 0, 20, 13],
                               torch.exp(torch.tensor(-0.5)))


def test_unflip_mirrors_and_swaps():
    coords = torch.tensor([[[1., 2.], [5., 6.], [9., 9.]]])
    out = unflip_coordinates(coords, [1, 0, 2], width=10)
    torch.testing.assert_close(out, torch.tensor([[[4., 6.], [8., 2.],
                                                   [0., 9.]]]))
    # an involution
    torch.testing.assert_close(unflip_coordinates(out, [1, 0, 2], 10), coords)


def test_render_truncates_at_three_sigma_without_denormals():
    gen = torch.Generator().manual_seed(0)
    kpts = torch.rand(4, 17, 2, generator=gen) * torch.tensor([192., 256.])
    maps = render_gaussian_heatmaps(kpts, torch.ones(4, 17), (192, 256), 7.)
    nonzero = maps[maps > 0]
    # products of two factors >= exp(-4.5): nothing near the denormal range
    assert nonzero.min() >= torch.exp(torch.tensor(-9.)) * 0.999
    ys, xs = torch.meshgrid(torch.arange(256.), torch.arange(192.),
                            indexing='ij')
    far = ((xs - kpts[0, 0, 0]).abs() > 21) | ((ys - kpts[0, 0, 1]).abs() > 21)
    assert maps[0, 0][far].abs().sum() == 0


@pytest.mark.parametrize('kernel, stride, padding, size, sigma', [
    (7, 2, 3, (48, 64), 3.0),  # ResNet's stem
    (3, 1, 1, (20, 30), 2.0),
    (5, 2, 0, (33, 25), 1.5),  # odd sizes, no padding
    ((7, 3), (2, 1), (3, 1), (40, 24), 2.5),  # rectangular kernel
])
def test_pose_maps_conv_equals_convolving_the_rendered_maps(
        kernel, stride, padding, size, sigma):
    gen = torch.Generator().manual_seed(0)
    w, h = size
    conv = torch.nn.Conv2d(3 + 5, 4, kernel, stride, padding, bias=False)
    torch.nn.init.normal_(conv.weight, generator=gen)
    # joints inside, on the border, outside the map, and one invisible
    kpts = torch.rand(2, 5, 2, generator=gen) * torch.tensor(
        [w + 10., h + 10.]) - 5
    kpts[0, 0] = torch.tensor([0., h - 1.])
    kpts[1, 1] = torch.tensor([-2. * sigma, 3.])
    visible = torch.ones(2, 5)
    visible[1, 2] = 0
    maps = render_gaussian_heatmaps(kpts, visible, (w, h), sigma)
    expected = F.conv2d(maps, conv.weight[:, 3:], stride=conv.stride,
                        padding=conv.padding)
    out = pose_maps_conv(conv, kpts, visible, (w, h), sigma)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_pose_maps_conv_refuses_what_it_cannot_compute():
    kpts, visible = torch.zeros(1, 2, 2), torch.ones(1, 2)
    for conv in (torch.nn.Conv2d(5, 4, 3, dilation=2),
                 torch.nn.Conv2d(6, 4, 3, groups=2),
                 torch.nn.Conv2d(5, 4, 3, padding='same'),
                 torch.nn.Conv2d(5, 4, 3, padding=1,
                                 padding_mode='reflect')):
        with pytest.raises(ValueError, match='zero padding'):
            pose_maps_conv(conv, kpts, visible, (8, 8), 1.0)
