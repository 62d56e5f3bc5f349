"""merge_cfg_options: a new data_root moves every path under the old one."""
from mmengine.config import Config

from posefix_mm.utils import merge_cfg_options


def _cfg() -> Config:
    root = 'data/coco/'
    return Config(
        dict(
            data_root=root,
            lspet_root='data/lspet/',
            train_dataloader=dict(
                dataset=dict(
                    data_root=root,
                    ann_file=root + 'annotations/train.json',
                    datasets=[dict(ann_file='data/lspet/ann.json')])),
            val_evaluator=[dict(ann_file=root + 'annotations/val.json')],
            other='data/coconut/x.json'))


def test_data_root_moves_every_path_under_it():
    cfg = merge_cfg_options(_cfg(), {'data_root': '/mnt/coco'})
    assert cfg.data_root == '/mnt/coco/'  # the old trailing slash kept
    dataset = cfg.train_dataloader.dataset
    assert dataset.data_root == '/mnt/coco/'
    assert dataset.ann_file == '/mnt/coco/annotations/train.json'
    assert cfg.val_evaluator[0].ann_file == '/mnt/coco/annotations/val.json'
    # another root, and a path that only starts with the same letters
    assert dataset.datasets[0].ann_file == 'data/lspet/ann.json'
    assert cfg.other == 'data/coconut/x.json'


def test_two_roots_and_plain_options():
    cfg = merge_cfg_options(
        _cfg(), {
            'data_root': '/a/',
            'lspet_root': '/b/',
            'train_dataloader.dataset.ann_file': '/c/train.json'
        })
    dataset = cfg.train_dataloader.dataset
    assert dataset.ann_file == '/c/train.json'  # set explicitly: kept
    assert dataset.datasets[0].ann_file == '/b/ann.json'
    assert cfg.val_evaluator[0].ann_file == '/a/annotations/val.json'


def test_an_option_that_is_no_root_moves_nothing():
    cfg = merge_cfg_options(_cfg(), {'other': '/x.json'})
    assert cfg.other == '/x.json'
    assert cfg.val_evaluator[0].ann_file == 'data/coco/annotations/val.json'
