"""Config overrides the way users expect them: one ``data_root`` moves
every path under it."""
import os.path as osp

from mmengine.config import Config, ConfigDict


def _moved(value, roots: dict):
    if isinstance(value, str):
        for old, new in roots.items():
            if value.startswith(old):
                return new + value[len(old):]
        return value
    if isinstance(value, (dict, ConfigDict)):
        for key in value:
            value[key] = _moved(value[key], roots)
        return value
    if isinstance(value, list):
        return [_moved(v, roots) for v in value]
    if isinstance(value, tuple):
        return tuple(_moved(v, roots) for v in value)
    return value


def merge_cfg_options(cfg: Config, options: dict) -> Config:
    """``cfg.merge_from_dict(options)``, and where ``options`` sets a
    top-level ``*_root`` string (``data_root``, ``lspet_root``, ...), every
    path of the config that starts with the old root (dataloaders,
    evaluators' ``ann_file``, ...) starts with the new one.

    MMEngine computes ``data_root + 'annotations/...'`` when it reads the
    file, so overriding ``data_root`` alone would move nothing else.
    """
    roots, options = {}, dict(options)
    for key, value in options.items():
        old = cfg.get(key)
        if '.' in key or not key.endswith('_root') or not isinstance(
                old, str) or not isinstance(value, str):
            continue
        if old.endswith('/') and not value.endswith('/'):
            value = options[key] = value + '/'
        roots[old] = value
    cfg.merge_from_dict(options)
    if roots:
        # the longest first: a root inside another moves as itself
        roots = dict(sorted(roots.items(), key=lambda kv: -len(kv[0])))
        for key in list(cfg.keys()):
            if key not in options:
                cfg[key] = _moved(cfg[key], roots)
    return cfg


#: the dataloaders whose dataset may refine a results file
_LOADERS = ('val_dataloader', 'test_dataloader')


def missing_results_files(cfg: Config, loaders=_LOADERS) -> list:
    """One line per dataloader of ``loaders`` (validation, test) whose
    dataset refines a pose estimator's results file
    (``PoseFixResultsDataset``) that does not exist: what the file is and
    the option that gives it."""
    lines = []
    for loader in loaders:
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        if dataset.get('type') != 'PoseFixResultsDataset':
            continue
        path = dataset.get('input_file')
        if path and not osp.isfile(path):
            lines.append(
                f'{loader}.dataset.input_file: no file {path}: this config '
                'is validated by refining a pose estimator\'s COCO keypoint '
                'results on val2017 (a detector + top-down model\'s '
                'keypoints_val2017_results.json); give yours with '
                f'--cfg-options {loader}.dataset.input_file=RESULTS.json'
                + (', or train without validation: --no-validate'
                   if loader == 'val_dataloader' else ''))
    return lines
