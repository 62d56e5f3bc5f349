"""Every config in configs/ loads and builds its model and datasets."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from posefix_mm.utils import merge_cfg_options
from .conftest import REPO_ROOT

BLAZEPOSE = '{}/predictions/blazepose_full_val2017.json'

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _persons(ann_file: str) -> int:
    """Non-crowd persons with keypoints of an annotation file, counted from
    the JSON (as coco_mini's README counts them: 139 train, 120 val)."""
    with open(ann_file) as f:
        anns = json.load(f)['annotations']
    return sum(1 for a in anns
               if not a.get('iscrowd', 0) and a.get('num_keypoints', 0) > 0)


def expected_len(dataset_cfg) -> int:
    """The samples a dataset config should give on coco_mini (and lspet),
    counted independently of MMPose's and posefix_mm's datasets: a results
    file's entries, an annotation file's persons (or its ``indices``), a
    combination's parts times their ``sample_ratio_factor``."""
    if dataset_cfg.type == 'CombinedDataset':
        ratios = dataset_cfg.get('sample_ratio_factor') or [1] * len(
            dataset_cfg.datasets)
        return sum(
            int(expected_len(d) * r)
            for d, r in zip(dataset_cfg.datasets, ratios))
    if dataset_cfg.type == 'PoseFixResultsDataset':
        with open(dataset_cfg.input_file) as f:
            return len(json.load(f))
    if isinstance(dataset_cfg.get('indices'), int):
        return dataset_cfg.indices
    return _persons(osp.join(dataset_cfg.data_root, dataset_cfg.ann_file))


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_builds(path, coco_mini):
    # one override moves every path under data_root (evaluators too)
    cfg = merge_cfg_options(
        Config.fromfile(path), dict(data_root=coco_mini + '/'))
    assert cfg.default_scope == 'mmpose'
    assert 'posefix_mm' in cfg.custom_imports['imports']
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.model.get('head', {}).get('out_channels', 17) != 17:
        return  # another skeleton: its own test (test_tools/test_crowdpose)
    # coco_mini has COCO's layout: every COCO config's datasets build on it
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset_cfg = loader.dataset.copy()
        if dataset_cfg.type == 'PoseFixResultsDataset':
            # the paper configs validate on a real estimator's results
            dataset_cfg.input_file = BLAZEPOSE.format(coco_mini)
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == expected_len(dataset_cfg)
        sample = dataset[0]
        assert sample['inputs'].shape[-2:][::-1] == tuple(
            cfg.codec['input_size'])
