"""`mim train` / `mim test` run the tools shipped in the installed package."""
import glob
import json
import os.path as osp
import subprocess

import pytest

from ..conftest import REPO_ROOT

pytestmark = pytest.mark.integration  # starts processes

CONFIG = 'configs/baselines/td-hm_res18_coco-mini-128x96.py'
TINY = [
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=4',
    'train_dataloader.dataset.indices=8', 'val_dataloader.batch_size=4',
    'val_dataloader.dataset.indices=4', 'default_hooks.checkpoint.interval=1',
    'default_hooks.logger.interval=1'
]


def _run(cmd):
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory, venv_bin, coco_mini):
    work_dir = str(tmp_path_factory.mktemp('mim_train'))
    data = [f'data_root={coco_mini}/']
    for split in ('train', 'val'):
        data.append(f'{split}_dataloader.dataset.data_root={coco_mini}/')
    data.append('val_evaluator.ann_file='
                 f'{coco_mini}/annotations/person_keypoints_val2017.json')
    out = _run([
        osp.join(venv_bin, 'mim'), 'train', 'posefix_mm', CONFIG,
        '--work-dir', work_dir, '--gpus', '0', '--cfg-options', *TINY, *data
    ])
    return work_dir, data, out


def test_mim_train_runs_shipped_tool(trained_dir):
    work_dir, _, out = trained_dir
    assert '.mim/tools/train.py' in out
    assert 'Epoch(train) [1][2/2]' in out
    assert osp.exists(osp.join(work_dir, 'epoch_1.pth'))


def test_mim_test_evaluates_checkpoint(trained_dir, venv_bin):
    work_dir, data, _ = trained_dir
    metrics = osp.join(work_dir, 'metrics.json')
    _run([
        osp.join(venv_bin, 'mim'), 'test', 'posefix_mm', CONFIG,
        '--checkpoint',
        osp.join(work_dir, 'epoch_1.pth'), '--gpus', '0', '--work-dir',
        work_dir, '--out', metrics, '--cfg-options', *TINY, *data
    ])
    with open(metrics) as f:
        result = json.load(f)
    # the shipped tool evaluates as the repository's does, to the digit
    direct = osp.join(work_dir, 'direct.json')
    _run([
        osp.join(venv_bin, 'python'),
        osp.join(REPO_ROOT, 'tools', 'test.py'), CONFIG,
        osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir, '--out',
        direct, '--cfg-options', *TINY, *data
    ])
    with open(direct) as f:
        expected = json.load(f)
    assert 'coco/AP' in result and result == expected


def test_mim_train_paper_config_on_coco_mini(tmp_path, venv_bin, coco_mini):
    """`mim train posefix_mm configs/posefix_r152.py` (the old name of the
    paper config), pointed at coco_mini and stopped after 2 iterations;
    from scratch, said explicitly (the ImageNet start is tested with the
    models)."""
    out = _run([
        osp.join(venv_bin, 'mim'), 'train', 'posefix_mm',
        'configs/posefix_r152.py', '--work-dir',
        str(tmp_path), '--gpus', '0', '--cfg-options',
        f'train_dataloader.dataset.data_root={coco_mini}/',
        'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        'default_hooks.logger.interval=1', 'model.pretrained_backbone=None'
    ])
    assert 'Epoch(train) [1][2/2]' in out
    assert 'starts from scratch' in out
    assert 'loss_heatmap' in out and 'loss_coord' in out
    assert osp.exists(tmp_path / 'epoch_1.pth')


def test_mim_search_lists_the_configs(venv_bin, tmp_path):
    proc = subprocess.run([osp.join(venv_bin, 'mim'), 'search', 'posefix_mm'],
                          cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    configs = sorted(
        p for p in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p)
    assert len(configs) >= 10
    for path in configs:
        name = osp.splitext(osp.basename(path))[0]
        assert f'config id: {name}' in proc.stdout, name
    # every config the index names exists
    import yaml
    with open(osp.join(REPO_ROOT, 'configs', 'metafile.yml')) as f:
        for model in yaml.safe_load(f)['Models']:
            assert osp.isfile(osp.join(REPO_ROOT, model['Config']))


@pytest.mark.parametrize('name, options', [
    ('posefix_blazepose_coco-mini-lspet-256x192.py', [
        'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
        'val_dataloader.dataset.indices=2'
    ]),
    ('posefix_r152.py', [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=2',
        'model.pretrained_backbone=None', 'val_dataloader.dataset.input_file'
        '={coco_mini}/predictions/blazepose_full_val2017.json',
        'val_dataloader.dataset.indices=2'
    ]),
])
def test_mim_train_from_another_folder(name, options, tmp_path, venv_bin,
                                       coco_mini, lspet):
    """A config of the installed package, named alone, trains from any
    folder: its data moved by one option per root, its pose-pretrained
    weights found in the user's folder (make setup filled it)."""
    small = [
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1'
    ]
    roots = [f'data_root={coco_mini}/', f'lspet_root={lspet}/']
    proc = subprocess.run([
        osp.join(venv_bin, 'mim'), 'train', 'posefix_mm', name,
        '--work-dir', str(tmp_path / 'run'), '--gpus', '0', '--cfg-options',
        *small, *roots, *[o.format(coco_mini=coco_mini) for o in options]
    ], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert '.mim/tools/train.py' in out
    assert glob.glob(str(tmp_path / 'run' / '*.pth'))
    if name.startswith('posefix_blazepose'):
        assert 'BlazePoseBackbone: weights from' in out
