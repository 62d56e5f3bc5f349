"""The .pth hook that applies the environment fixes on the first import of
MMPose or MMDetection."""
import sys
import sysconfig

from posefix_mm.utils import compat_hook


def test_pth_line_installs_the_finder(tmp_path, monkeypatch):
    monkeypatch.setattr(sysconfig, 'get_paths',
                        lambda: dict(purelib=str(tmp_path)))
    path = compat_hook.write_pth()
    assert path == str(tmp_path / compat_hook.PTH_NAME)
    line = open(path).read()
    assert compat_hook.__file__.replace('.pyc', '.py') in line
    before = list(sys.meta_path)
    try:
        sys.meta_path[:] = [
            f for f in sys.meta_path
            if type(f).__name__ != 'ApplyCompatOnImport'
        ]
        exec(line, {})  # what site.py does with the .pth line
        finders = [
            f for f in sys.meta_path
            if type(f).__name__ == 'ApplyCompatOnImport'
        ]
        assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    finally:
        sys.meta_path[:] = before


def test_finder_applies_the_fixes_once_and_finds_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(compat_hook.ApplyCompatOnImport, 'done', False)
    monkeypatch.setattr(
        compat_hook, '_compat', lambda: type(
            'Compat', (), dict(apply=staticmethod(lambda: calls.append(1))))
    )
    finder = compat_hook.ApplyCompatOnImport()
    assert finder.find_spec('numpy') is None and calls == []
    assert finder.find_spec('mmpose') is None
    assert finder.find_spec('mmdet') is None
    assert len(calls) == 1
