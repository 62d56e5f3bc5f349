"""Loading a model's weights from a local checkpoint, strictly and safely."""
import os.path as osp
import pickle
import zipfile

from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from .messages import few


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file."""


def read_checkpoint(path: str, what: str = 'checkpoint') -> dict:
    """Read a local checkpoint with torch's weights-only loading.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: an empty file, not a checkpoint, or one holding
            objects that weights-only loading refuses (such a file is never
            to be loaded otherwise).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: no local checkpoint {path}')
    if osp.getsize(path) == 0:
        raise CheckpointError(f'{what}: {path} is empty (0 bytes), not a '
                              'checkpoint')
    try:
        return _load_checkpoint(path, map_location='cpu')
    except pickle.UnpicklingError:
        raise CheckpointError(
            f'{what}: {path} is not a checkpoint that can be loaded safely: '
            'it is not a PyTorch file, or it holds objects other than '
            'weights and plain data') from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f'{what}: {path} is not a PyTorch checkpoint '
                              f'({str(e).splitlines()[0]})') from None


def load_weights(model: nn.Module,
                 path: str,
                 what: str = 'checkpoint') -> dict:
    """Load a checkpoint into ``model``: every key of the model must be in
    the checkpoint with its shape, and the checkpoint must have no other
    key (a checkpoint of another model is an error, not a warning).

    Args:
        model (nn.Module): the model.
        path (str): local checkpoint (MMEngine's, or a bare state dict).
        what (str): how messages name the file (e.g. ``'refiner_weights'``).

    Returns:
        dict: the checkpoint (``meta`` and the rest).
    """
    return apply_checkpoint(model, read_checkpoint(path, what), path, what)


def apply_checkpoint(model: nn.Module, checkpoint: dict, path: str,
                     what: str = 'checkpoint') -> dict:
    """Load a checkpoint already read (by :func:`read_checkpoint`) into
    ``model``, strictly, as :func:`load_weights`; ``path`` and ``what``
    name it in errors."""
    state = checkpoint.get('state_dict', checkpoint)
    state = {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f'{k} {tuple(state[k].shape)} (model {tuple(v.shape)})'
        for k, v in own.items()
        if k in state and getattr(state[k], 'shape', None) != v.shape
    ]
    problems = [(missing, 'missing'), (unexpected, 'unexpected'),
                (wrong, 'of the wrong shape')]
    found = [f'{len(keys)} keys {name} ({few(keys)})'
             for keys, name in problems if keys]
    if found:
        raise CheckpointError(f'{what}: {path} does not fit the model: '
                              + '; '.join(found))
    model.load_state_dict(state)
    return checkpoint
