"""The paper config as a COCO user runs it: from another working folder,
the data moved by one `data_root` override, validated on a real
estimator's results (coco_mini's BlazePose file)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT, TINY_TRAINING

pytestmark = pytest.mark.integration  # starts processes

PAPER_CONFIG = osp.join(REPO_ROOT, 'configs',
                        'posefix_res50_8xb9-240e_coco-256x192.py')


def coco_metric_ap(config: str, data_root: str, results_file: str) -> float:
    """The AP MMPose's CocoMetric gives a results file's poses (its
    rescoring by their joint scores, OKS NMS with the areas of their crops),
    built from the config's validation dataset and pipeline, without any
    model: what the validation's InputPoseCocoMetric must report."""
    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.evaluation.metrics import CocoMetric
    from mmpose.registry import DATASETS
    cfg = Config.fromfile(config)
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.update(data_root=data_root, input_file=results_file)
    init_default_scope('mmpose')
    dataset = DATASETS.build(dataset_cfg)
    metric = CocoMetric(ann_file=osp.join(
        data_root, 'annotations', 'person_keypoints_val2017.json'))
    metric.dataset_meta = dataset.metainfo
    results = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        packed = dataset[i]['data_samples']
        results.append((dict(
            id=info['id'], img_id=info['img_id'], category_id=1,
            keypoints=info['input_keypoints'],
            keypoint_scores=info['input_keypoint_scores'][None],
            bbox_scores=info['bbox_score'],
            areas=np.prod(packed.gt_instances.bbox_scales, axis=1)), {}))
    return metric.compute_metrics(results)['AP']


def test_paper_recipe_from_another_folder(blazepose_file, tmp_path, coco_mini):
    # a data root the config has never heard of
    data_root = tmp_path / 'datasets' / 'coco'
    data_root.parent.mkdir()
    os.symlink(coco_mini, data_root)
    work = tmp_path / 'elsewhere'
    work.mkdir()
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), PAPER_CONFIG,
        '--work-dir', 'run', '--cfg-options', f'data_root={data_root}',
        'val_dataloader.dataset.input_file='
        f'{data_root}/predictions/blazepose_full_val2017.json',
        'model.pretrained_backbone=None', *TINY_TRAINING
    ], cwd=work, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # nothing of the config still points at the default data root
    dumped = (work / 'run' / osp.basename(PAPER_CONFIG)).read_text()
    assert "'data/coco/" not in dumped and str(data_root) in dumped
    # validation refined BlazePose's val results: its input AP is the
    # file's (as pycocotools computes it), next to the refined AP
    metrics = {}
    for line in (work / 'run').glob('*/vis_data/scalars.json'):
        for record in map(json.loads, line.read_text().splitlines()):
            metrics.update(record)
    assert metrics['coco-input/AP'] == pytest.approx(
        coco_metric_ap(PAPER_CONFIG, str(data_root), blazepose_file.path),
        abs=1e-9)
    assert 0 <= metrics['coco/AP'] <= 1
    # the best checkpoint is chosen by the refined AP
    assert list((work / 'run').glob('best_coco_AP_epoch_1.pth'))
