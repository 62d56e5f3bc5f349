import pytest
import torch

from posefix_mm.models.utils import (render_gaussian_heatmaps, soft_argmax,
                                     unflip_coordinates)


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
