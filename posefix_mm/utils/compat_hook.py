"""Apply :mod:`posefix_mm.utils.compat` when MMPose or MMDetection is first
imported, so that ``import mmpose.apis`` works in this environment without
importing posefix_mm first.

``make setup`` installs it as a ``.pth`` line (``python -m
posefix_mm.utils.compat_hook``). Standard library only, and nothing happens
until an OpenMMLab import: it costs nothing at interpreter start-up. The
fixes stay the same: each applied only where the stack needs it. It also
silences setuptools' ``pkg_resources`` deprecation notice (the pin is
deliberate).
"""
import importlib.abc
import importlib.util
import os.path as osp
import sys
import sysconfig
import warnings

TRIGGERS = ('mmpose', 'mmdet')
PTH_NAME = 'posefix_mm_compat.pth'


def _compat():
    """``posefix_mm.utils.compat``, loaded from its file without running
    ``posefix_mm/__init__.py`` (which imports MMPose)."""
    name = 'posefix_mm.utils.compat'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(osp.dirname(osp.abspath(__file__)), 'compat.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class ApplyCompatOnImport(importlib.abc.MetaPathFinder):
    """Applies the fixes before the first import of a trigger package, then
    finds nothing (the usual finders import the package)."""

    done = False

    def find_spec(self, fullname, path=None, target=None):
        if not self.done and fullname in TRIGGERS:
            # stays in sys.meta_path: removing it while the import system
            # walks the list would skip the next finder
            ApplyCompatOnImport.done = True
            _compat().apply()
        return None


def install() -> None:
    if not any(isinstance(f, ApplyCompatOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, ApplyCompatOnImport())
    # setuptools < 81 is pinned on purpose (MMEngine and openmim import
    # pkg_resources): its deprecation notice, printed on every run, says
    # nothing a user can act on (docs/environment.md)
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)


def write_pth() -> str:
    """Write the ``.pth`` line into this environment's site-packages."""
    path = osp.join(sysconfig.get_paths()['purelib'], PTH_NAME)
    here = osp.abspath(__file__)
    line = (f"import os, runpy; p = {here!r}; os.path.isfile(p) and "
            "runpy.run_path(p, run_name='posefix_mm_compat_hook')\n")
    with open(path, 'w') as f:
        f.write(line)
    return path


if __name__ == 'posefix_mm_compat_hook':
    install()
elif __name__ == '__main__':
    print(f'wrote {write_pth()}')
