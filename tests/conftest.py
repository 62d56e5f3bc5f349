import os
import os.path as osp
import runpy
import sys

import pytest

import posefix_mm  # noqa: F401  (applies the environment fixes first)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.join(REPO_ROOT, '..', 'shared', 'data')

#: fixtures of real data on disk (and the downloaded mediapipe wheel): a
#: test that uses one (directly or through another fixture) is an
#: integration test
DATA_FIXTURES = {
    'coco_mini', 'coco_extra', 'lspet', 'venv_bin', 'coco_mini_train',
    'blazepose_results', 'blazepose_file', 'wheel'
}


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'integration: reads the shared data, trains, or runs the '
        'tools end to end (not in `make test-fast`)')


def pytest_collection_modifyitems(config, items):
    """The fast tier is what is left: tests on inputs built in memory or in
    a temporary folder, in this process. Integration: the tests that use a
    data fixture, and those marked ``integration`` (a module or a test that
    starts a process, trains, or runs a tool on real data marks itself)."""
    for item in items:
        if DATA_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)


#: --cfg-options that shrink a training config to one epoch of 4 samples
#: validated on 16, in the main process (tools/train.py tests)
TINY_TRAINING = [
    'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
    'train_cfg.val_interval=1', 'val_dataloader.batch_size=16',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1'
]


def save_model(config: str, path, change=None, scope: str = 'mmpose',
               init: bool = True) -> str:
    """The model of ``config`` (of the registry ``scope``), initialised
    (``init``; an mmdet model's init may name a checkpoint to download),
    then ``change(model)``, saved as a local checkpoint at ``path``; the
    random weights from seed 0."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(scope)
    torch.manual_seed(0)  # the same weights whatever ran before
    model = MODELS.build(Config.fromfile(config).model)
    init_default_scope('mmpose')
    if init:
        model.init_weights()
    if change is not None:
        change(model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(path))
    return str(path)


def random_last_layer(model) -> None:
    """A ``save_model`` change: PoseFix's last layer random (seed 0), so
    that the refiner moves joints."""
    import torch
    torch.manual_seed(0)
    model.head.final_layer.weight.data.normal_(std=1.0)


def run_tool(name: str, args: list):
    """tools/<name>.py in this process, as a shell would call it (sys.argv
    set); returns what its main() returns."""
    sys.argv = [f'{name}.py'] + [str(a) for a in args]
    namespace = runpy.run_path(
        osp.join(REPO_ROOT, 'tools', f'{name}.py'), run_name=name)
    return namespace['main'](sys.argv[1:])


def _data_dir(env: str, name: str) -> str:
    path = os.environ.get(env, osp.join(SHARED_DATA, name))
    if not osp.isdir(path):
        pytest.fail(f'{name} not found at {path}; set {env} to its folder')
    return osp.abspath(path)


@pytest.fixture(scope='session')
def coco_mini() -> str:
    """Folder of coco_mini (override with POSEFIX_COCO_MINI)."""
    return _data_dir('POSEFIX_COCO_MINI', 'coco_mini')


@pytest.fixture(scope='session')
def coco_extra() -> str:
    """Folder of coco_extra (override with POSEFIX_COCO_EXTRA)."""
    return _data_dir('POSEFIX_COCO_EXTRA', 'coco_extra')


@pytest.fixture(scope='session')
def lspet() -> str:
    """Folder of lspet (override with POSEFIX_LSPET)."""
    return _data_dir('POSEFIX_LSPET', 'lspet')


@pytest.fixture(scope='session')
def venv_bin() -> str:
    """The bin folder of the Python running the tests (mim lives there)."""
    return osp.dirname(sys.executable)


@pytest.fixture(scope='session')
def coco_mini_train(coco_mini):
    """PoseFixCocoDataset on coco_mini train2017, no pipeline."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    return DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root=coco_mini,
            ann_file='annotations/person_keypoints_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[]))


@pytest.fixture(scope='session')
def blazepose_results(coco_mini):
    """PoseFixResultsDataset of the BlazePose results on coco_mini val (no
    ground truth, no pipeline): the samples tools/refine.py refines."""
    from posefix_mm.datasets import PoseFixResultsDataset
    return PoseFixResultsDataset.from_files(
        osp.join(coco_mini, 'predictions', 'blazepose_full_val2017.json'),
        osp.join(coco_mini, 'val2017'))


def pycocotools_ap(ann: str, results: str) -> float:
    """The keypoint AP of a results file against COCO annotations, computed
    by pycocotools (independently of posefix_mm's evaluation, which uses
    xtcocotools)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        evaluation = COCOeval(gt, gt.loadRes(str(results)), 'keypoints')
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


@pytest.fixture(scope='session')
def blazepose_file(coco_mini):
    """coco_mini's BlazePose results on val: their path, their number of
    entries and their keypoint AP against the val annotations
    (:func:`pycocotools_ap`)."""
    import json
    from types import SimpleNamespace
    path = osp.join(coco_mini, 'predictions', 'blazepose_full_val2017.json')
    with open(path) as f:
        count = len(json.load(f))
    ap = pycocotools_ap(
        osp.join(coco_mini, 'annotations', 'person_keypoints_val2017.json'),
        path)
    return SimpleNamespace(path=path, count=count, ap=ap)
