"""The tools answer --help before importing torch, MMPose or posefix_mm
(the imports take seconds; docs: issue "first hour")."""
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

pytestmark = pytest.mark.integration  # starts processes


@pytest.mark.parametrize('tool', ['refine', 'refine_inferencer'])
def test_help_imports_no_model_code(tool):
    proc = subprocess.run(
        [sys.executable, '-X', 'importtime',
         osp.join(REPO_ROOT, 'tools', f'{tool}.py'), '--help'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'usage:' in proc.stdout
    imported = {line.split('|')[-1].strip()
                for line in proc.stderr.splitlines() if '|' in line}
    for heavy in ('torch', 'mmpose', 'posefix_mm'):
        assert heavy not in imported, heavy
