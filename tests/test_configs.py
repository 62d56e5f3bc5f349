"""Every config in configs/ loads and builds its model and datasets."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from .conftest import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_builds(path, coco_mini):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpose'
    assert 'posefix_mm' in cfg.custom_imports['imports']
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    # coco_mini has COCO's layout: every config's datasets build on it
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset_cfg = loader.dataset.copy()
        dataset_cfg.data_root = coco_mini
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) > 0
        sample = dataset[0]
        assert sample['inputs'].shape[-2:][::-1] == tuple(
            cfg.codec['input_size'])
