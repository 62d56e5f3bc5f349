"""Make the 2024 OpenMMLab stack run on a CPU-only torch 2.x machine.

Independent fixes, each applied only when the environment needs it
(see ``docs/environment.md``):

* torchvision whose compiled ops cannot load (a CUDA wheel next to CPU torch):
  pure-torch ``torchvision::nms`` / ``qnms`` so that it imports and
  ``nms`` / ``batched_nms`` work; ``roi_align`` uses torchvision's own Python
  fallback.
* mmcv without compiled ops (``mmcv-lite``): a placeholder ``mmcv._ext`` whose
  ``nms`` is pure torch and whose other ops raise
  :class:`MissingCompiledOpError`.
* torch's weights-only checkpoint loading (on by default since torch 2.6):
  the numpy and MMEngine types found in MMEngine checkpoints are registered as
  safe globals. Weights-only loading stays on: a pickle that would run code
  is still refused.
* MMEngine's pytorch launcher on a machine without CUDA: no
  ``torch.cuda.set_device``, and gloo in place of nccl.
* numpy >= 2.3 with MMPose's OpenCV visualizer: ``draw_circles`` gets
  scalars (it calls ``int()`` on one-element arrays).

Call :func:`apply` before importing torchvision, mmcv.ops, mmpose or mmdet
(``import posefix_mm`` does, and so does the import hook ``make setup``
installs, :mod:`posefix_mm.utils.compat_hook`). It is idempotent, applies
only what the environment needs (nothing on a healthy stack) and logs
once, at INFO, what it applied.

One file, over the package's 300 lines, on purpose: the start-up hook
loads it by its path, without running ``posefix_mm/__init__.py`` (which
imports MMPose, what is being fixed), so it cannot import modules of its
own package.
"""
import glob
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import pickle
import sys
import types
import warnings

import torch

_APPLIED = False
_TORCHVISION_SCHEMAS = {
    'nms': 'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms': 'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
}
_torchvision_lib = None  # keeps the fallback op definitions alive


class MissingCompiledOpError(RuntimeError):
    """A compiled mmcv op was called but this mmcv build has none."""


def nms_pure_torch(boxes: torch.Tensor,
                   scores: torch.Tensor,
                   iou_threshold: float,
                   offset: int = 0) -> torch.Tensor:
    """Greedy non-maximum suppression in plain torch.

    Args:
        boxes (Tensor): (N, 4) boxes, xyxy.
        scores (Tensor): (N, ) scores.
        iou_threshold (float): boxes overlapping a kept box by more than this
            IoU are dropped.
        offset (int): 0, or 1 for mmcv's legacy ``+1`` box extent.

    Returns:
        Tensor: indices of the kept boxes (int64), by decreasing score.
    """
    if boxes.numel() == 0:
        return boxes.new_zeros((0, ), dtype=torch.long)
    boxes = boxes.float()
    x1, y1, x2, y2 = boxes.unbind(-1)
    areas = (x2 - x1 + offset) * (y2 - y1 + offset)
    order = scores.float().argsort(descending=True)
    iw = (torch.minimum(x2[:, None], x2[None]) -
          torch.maximum(x1[:, None], x1[None]) + offset).clamp(min=0)
    ih = (torch.minimum(y2[:, None], y2[None]) -
          torch.maximum(y1[:, None], y1[None]) + offset).clamp(min=0)
    inter = iw * ih
    iou = inter / (areas[:, None] + areas[None] - inter).clamp(min=1e-12)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def _torchvision_ops_load() -> bool:
    """Whether torchvision's compiled ops load (True if not installed)."""
    spec = importlib.util.find_spec('torchvision')
    if spec is None or 'torchvision' in sys.modules:
        return True
    libs = glob.glob(
        os.path.join(spec.submodule_search_locations[0], '_C.*so'))
    if not libs:
        return False
    try:
        torch.ops.load_library(libs[0])
    except (OSError, RuntimeError):
        return False
    return True


def patch_torchvision() -> bool:
    """Register pure-torch ops when torchvision's compiled ops cannot load.

    Returns:
        bool: whether the fallbacks were installed.
    """
    global _torchvision_lib
    if _torchvision_ops_load():
        return False
    _torchvision_lib = torch.library.Library('torchvision', 'DEF')
    for name, schema in _TORCHVISION_SCHEMAS.items():
        _torchvision_lib.define(schema)
        _torchvision_lib.impl(name, nms_pure_torch,
                              'CompositeExplicitAutograd')
    import torchvision.ops.boxes as tv_boxes

    # nms() asserts that the compiled library loaded; our ops stand in for it.
    # Other ops keep the assertion (or torchvision's own Python fallback).
    tv_boxes._assert_has_ops = lambda: None
    return True


def _missing_op(name: str):

    def raise_missing(*args, **kwargs):
        raise MissingCompiledOpError(
            f'mmcv op "{name}" needs mmcv built with its compiled ops, but '
            'this environment has mmcv-lite. Run `make setup-full` to build '
            'mmcv 2.1.0 with ops (about 20 minutes on 2 cores).')

    raise_missing.__name__ = name
    return raise_missing


def _ext_getattr(name: str):
    # mmcv's load_ext checks hasattr() for every op a module uses at import
    if name.startswith('__'):
        raise AttributeError(name)
    return _missing_op(name)


def _mmcv_ext_nms(boxes, scores, iou_threshold=0.5, offset=0):
    return nms_pure_torch(boxes, scores, iou_threshold, offset)


def patch_mmcv() -> bool:
    """Install a placeholder ``mmcv._ext`` when mmcv has no compiled ops.

    Returns:
        bool: whether the placeholder was installed.
    """
    if importlib.util.find_spec('mmcv') is None or \
            importlib.util.find_spec('mmcv._ext') is not None:
        return False
    ext = types.ModuleType('mmcv._ext')
    # mmengine inspects __spec__ of imported modules; a bare module has None.
    ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', loader=None)
    ext.nms = _mmcv_ext_nms
    ext.__getattr__ = _ext_getattr
    sys.modules['mmcv._ext'] = ext
    import mmcv
    mmcv._ext = ext
    return True


def history_buffer_getattr(obj, name: str):
    """Stand-in for ``builtins.getattr`` while loading checkpoints.

    MMEngine's message hub pickles each ``HistoryBuffer`` with its statistics
    methods, which pickle as ``getattr(HistoryBuffer, 'mean')``. Allowing the
    real ``getattr`` would let a checkpoint reach any attribute (and run
    code); this resolves only HistoryBuffer's registered statistics methods.
    """
    from mmengine.logging import HistoryBuffer

    # the built-in methods are registered only when a first buffer is made
    allowed = {'min', 'max', 'current', 'mean'}
    allowed |= set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint: '
        'only HistoryBuffer statistics methods are allowed')


def _checkpoint_safe_globals() -> list:
    """Globals that MMEngine checkpoints pickle besides tensors and builtins.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer

    numpy_types = [
        np._core.multiarray._reconstruct, np._core.multiarray.scalar,
        np.ndarray, np.dtype
    ]
    # numpy 2 pickles each dtype by its class, e.g. numpy.dtypes.Float64DType
    dtype_classes = [
        type(np.dtype(t)) for t in np.sctypeDict.values()
        if not isinstance(t, str)
    ]
    return numpy_types + sorted(set(dtype_classes), key=str) + [
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr')
    ]


def patch_checkpoint_loading() -> bool:
    """Allow MMEngine checkpoints under torch's weights-only loading.

    Returns:
        bool: whether torch has weights-only loading to allow them in.
    """
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return False
    torch.serialization.add_safe_globals(_checkpoint_safe_globals())
    return True


def patch_mmengine_cpu_dist() -> bool:
    """Let MMEngine's pytorch launcher run CPU processes.

    Without CUDA: ``mmengine.dist.utils._init_dist_pytorch`` no longer calls
    ``torch.cuda.set_device`` (which fails) and uses gloo instead of nccl
    (which needs GPUs), and ``MMDistributedDataParallel`` gets no
    ``device_ids`` (the Runner passes ``[LOCAL_RANK]``, which DDP refuses for
    a CPU module).

    Returns:
        bool: whether the CPU path was installed.
    """
    if torch.cuda.is_available():
        return False
    import mmengine.dist.utils as dist_utils
    gpu_init = dist_utils._init_dist_pytorch
    if getattr(gpu_init, 'posefix_cpu', False):
        return True

    def init_dist_pytorch_cpu(backend, init_backend='torch', **kwargs):
        if backend == 'nccl':
            warnings.warn('no CUDA device: using the gloo backend instead of '
                          'nccl for CPU processes')
            backend = 'gloo'
        if init_backend != 'torch':
            return gpu_init(backend, init_backend=init_backend, **kwargs)
        torch.distributed.init_process_group(backend=backend, **kwargs)

    init_dist_pytorch_cpu.posefix_cpu = True
    dist_utils._init_dist_pytorch = init_dist_pytorch_cpu

    from mmengine.model import MMDistributedDataParallel
    ddp_init = MMDistributedDataParallel.__init__

    def ddp_init_cpu(self, module, *args, **kwargs):
        kwargs['device_ids'] = None
        ddp_init(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init_cpu
    return True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback(module)`` right after the module ``name`` is first
    imported (the import itself is the usual one), then leaves."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_fix(module):
            exec_module(module)
            self.callback(module)

        spec.loader.exec_module = exec_then_fix
        return spec


def _after_import(name: str, callback) -> None:
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


def _numpy_refuses_one_element_int() -> bool:
    import numpy as np
    try:
        int(np.array([1]))
    except TypeError:
        return True
    return False


def _fix_draw_circles(module) -> None:
    visualizer = module.OpencvBackendVisualizer
    draw_circles = visualizer.draw_circles

    def draw_circles_scalar(self, center, radius, *args, **kwargs):
        import numpy as np
        center, radius = np.asarray(center), np.asarray(radius)
        if center.ndim == 2 and len(center) == 1:
            center = center[0]
        if radius.size == 1:
            radius = radius.reshape(())
        return draw_circles(self, center, radius, *args, **kwargs)

    visualizer.draw_circles = draw_circles_scalar


def patch_mmpose_visualizer() -> bool:
    """numpy >= 2.3 refuses ``int()`` of a one-element array, which
    MMPose's OpenCV visualizer does for every keypoint it draws (with
    ``radius=np.array([r])``); its ``draw_circles`` then gets scalars.

    Returns:
        bool: whether the fix was (or will be, when MMPose's visualizer is
        imported) installed.
    """
    if not _numpy_refuses_one_element_int():
        return False
    _after_import('mmpose.visualization.opencv_backend_visualizer',
                  _fix_draw_circles)
    return True


def apply() -> None:
    """Apply every fix the environment needs; safe to call repeatedly."""
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    fixes = (('torchvision ops in pure torch', patch_torchvision),
             ('mmcv-lite placeholder ops', patch_mmcv),
             ('MMEngine checkpoints under weights-only loading',
              patch_checkpoint_loading),
             ('CPU distributed launcher', patch_mmengine_cpu_dist),
             ("numpy 2 in MMPose's visualizer", patch_mmpose_visualizer))
    applied = [name for name, fix in fixes if fix()]
    if applied:
        logging.getLogger('posefix_mm').info(
            'posefix_mm environment fixes (docs/environment.md): %s',
            ', '.join(applied))
