import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from ..conftest import REPO_ROOT

SMALL_CONFIG = osp.join(REPO_ROOT, 'configs',
                        'posefix_r18_coco-mini-128x96.py')


@pytest.fixture(scope='session')
def small_cfg(coco_mini):
    cfg = Config.fromfile(SMALL_CONFIG)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = coco_mini
    return cfg


def build_model(cfg, **head_overrides):
    init_default_scope('mmpose')
    model_cfg = cfg.model.copy()
    model_cfg.head = dict(model_cfg.head, **head_overrides)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


@pytest.fixture(scope='session')
def real_batch(small_cfg):
    """8 real coco_mini training samples through the training pipeline."""
    init_default_scope('mmpose')
    dataset = DATASETS.build(small_cfg.train_dataloader.dataset)
    np.random.seed(0)
    return pseudo_collate([dataset[i] for i in range(8)])
