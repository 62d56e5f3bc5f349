"""posefix_mm: PoseFix as an MMPose plugin.

Like MMPose, the package ships ``tools/``, ``configs/`` and
``model-index.yml`` inside itself (``posefix_mm/.mim``) so that ``mim train
posefix_mm CONFIG`` and ``mim search posefix_mm`` find them in the installed
package.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ['tools', 'configs', 'model-index.yml']


def get_version() -> str:
    scope = {}
    with open(osp.join(ROOT, 'posefix_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def add_mim_extension() -> None:
    """Copy tools/, configs/ and the model index into posefix_mm/.mim (mim
    looks there: `mim train`, `mim search`)."""
    mim_root = osp.join(ROOT, 'posefix_mm', '.mim')
    shutil.rmtree(mim_root, ignore_errors=True)
    os.makedirs(mim_root)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        if osp.isdir(src):
            shutil.copytree(
                src,
                osp.join(mim_root, name),
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif osp.isfile(src):
            shutil.copy(src, osp.join(mim_root, name))


add_mim_extension()
setup(
    name='posefix_mm',
    version=get_version(),
    description='PoseFix model-agnostic pose refinement for MMPose',
    long_description=open(osp.join(ROOT, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['posefix_mm', 'posefix_mm.*']),
    include_package_data=True,
    package_data={'posefix_mm': ['.mim/**/*']},
    python_requires='>=3.9',
    # The pinned working set is installed by `make setup`
    # (requirements/); listing it here would let pip pull CUDA builds.
    install_requires=[],
    # the ONNX export and the onnxruntime backend
    extras_require=dict(
        onnx=['onnx', 'onnxruntime', 'onnxscript'],
        # tools/convert_blazepose.py (BlazePose's weights from the wheel)
        pretrained=['tflite']),
    license='Apache License 2.0',
    zip_safe=False,
)
