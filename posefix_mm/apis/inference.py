"""Building a PoseFix model from its local files, as
``mmpose.apis.init_model`` builds a pose model."""
import warnings
from typing import Optional

from mmengine.config import Config

from posefix_mm.utils import load_weights


def init_refiner(config, checkpoint: Optional[str], device: str = 'cpu',
                 flip: bool = True, test_cfg: Optional[dict] = None):
    """Build a PoseFix model from its config and a local checkpoint.

    Args:
        config (str | Config): the PoseFix config.
        checkpoint (str, optional): local checkpoint, loaded strictly (see
            :func:`~posefix_mm.utils.load_weights`: a checkpoint of another
            model is an error); None keeps the initial weights, with a
            warning. A missing file is an error, never a download.
        device (str): ``'cpu'`` or ``'cuda'``.
        flip (bool): flip test.
        test_cfg (dict, optional): merged into the model's ``test_cfg``.
    """
    from mmpose.apis import init_model
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model = init_model(cfg, None, device='cpu')
    if checkpoint is None:
        warnings.warn('init_refiner: no checkpoint: the refiner is '
                      'untrained (random weights)')
    else:
        meta = load_weights(model, checkpoint, 'refiner checkpoint').get(
            'meta', {})
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.to(device)
    model.test_cfg = dict(
        model.test_cfg or {}, flip_test=flip, **(test_cfg or {}))
    return model
