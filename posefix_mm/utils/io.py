"""Output files that are complete or absent."""
import json
import os
import os.path as osp
import tempfile
from typing import Optional, Union


def dump_json_atomic(obj, path: str, indent: Optional[int] = None) -> None:
    """Write strict JSON (no NaN or infinity) atomically (see
    :func:`write_atomic`)."""
    write_atomic(path, json.dumps(obj, allow_nan=False, indent=indent))


def write_atomic(path: str, data: Union[str, bytes]) -> None:
    """Write ``data`` so that ``path`` is either complete or untouched; the
    file gets the permissions the user's umask gives any new file."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, 'wb' if isinstance(data, bytes) else 'w') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
