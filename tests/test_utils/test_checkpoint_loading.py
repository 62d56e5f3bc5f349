"""MMEngine checkpoints load and resume with torch's weights-only loading on,
and a checkpoint whose unpickling would run code is still refused."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset


@pytest.fixture(autouse=True)
def weights_only_on(monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            error = out.squeeze(1) - torch.stack(labels)
            return dict(loss=(error**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict(sigmas=np.array([.026, .025]), name='toy')

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([i, 1.]), labels=torch.tensor(2. * i))


def _runner(work_dir, max_epochs, resume=False):
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmengine')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('ckpt'))
    runner = _runner(work_dir, max_epochs=1)
    runner.train()
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    return work_dir, ckpt, runner.model.state_dict()


def test_load_checkpoint_weights_only(trained):
    _, ckpt, state = trained
    model = ToyModel()
    checkpoint = load_checkpoint(model, ckpt, map_location='cpu')
    sigmas = checkpoint['meta']['dataset_meta']['sigmas']
    assert isinstance(sigmas, np.ndarray)
    np.testing.assert_array_equal(sigmas, ToyDataset.metainfo['sigmas'])
    loss_buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss_buffer, HistoryBuffer)
    assert np.isfinite(loss_buffer.mean())
    assert torch.equal(model.linear.weight, state['linear.weight'])


def test_runner_resumes(trained):
    work_dir, _, state = trained
    runner = _runner(work_dir, max_epochs=2, resume=True)
    runner.train()
    assert runner.iter == 4  # 2 iterations resumed + 2 trained
    assert runner.epoch == 2
    assert osp.exists(osp.join(work_dir, 'epoch_2.pth'))


class _Call:
    """Pickles as ``func(*args)``; nests to build call chains."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __call__(self, *args):
        raise AssertionError('only meant to be pickled')

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(marker):
    """Checkpoint contents that create ``marker`` when unpickled."""
    direct = _Call(os.makedirs, marker)
    # through builtins.getattr, from a global that checkpoints do allow
    init = _Call(getattr, HistoryBuffer, '__init__')
    builtins = _Call(
        _Call(getattr, _Call(getattr, init, '__globals__'), 'get'),
        '__builtins__')
    importer = _Call(_Call(getattr, builtins, 'get'), '__import__')
    via_getattr = _Call(_Call(getattr, _Call(importer, 'os'), 'makedirs'),
                        marker)
    return dict(direct=direct, via_getattr=via_getattr)


@pytest.mark.parametrize('name', ['direct', 'via_getattr'])
def test_malicious_checkpoint_refused(tmp_path, name):
    marker = str(tmp_path / 'pwned')
    payload = _payloads(marker)[name]
    # the payload is real: plain pickle runs it
    pickle.loads(pickle.dumps(payload))
    assert osp.exists(marker)
    os.rmdir(marker)

    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {'x': payload}}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(ToyModel(), path, map_location='cpu')
    assert not osp.exists(marker)
