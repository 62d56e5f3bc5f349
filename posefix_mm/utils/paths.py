"""Where posefix_mm keeps files it makes for a user (the pose-pretrained
weights): a folder of the user's, not the repository and not
site-packages, so that configs work from any folder and from the installed
package.

``posefix_mm://NAME`` in a config (``BlazePoseBackbone.pretrained``,
``PoseFixHead.pretrained_final_layer.checkpoint``) names ``NAME`` in that
folder: ``$POSEFIX_MM_HOME``, by default ``$XDG_CACHE_HOME/posefix_mm``
(``~/.cache/posefix_mm``).
"""
import os
import os.path as osp

#: the environment variable that moves the folder
HOME_ENV = 'POSEFIX_MM_HOME'
#: a config path in the folder
SCHEME = 'posefix_mm://'
#: BlazePose's converted landmark weights, as the configs name them
BLAZEPOSE_WEIGHTS = SCHEME + 'pretrained/blazepose_landmark_full.pth'
#: the command that makes them, for a clone and for a pip install
MAKE_WEIGHTS = ('`make setup` in a clone of posefix_mm, or `mim run '
                'posefix_mm convert_blazepose` after a pip install')


def posefix_home() -> str:
    """The folder (``$POSEFIX_MM_HOME``, else ``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``posefix_mm``)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return osp.abspath(osp.expanduser(home))
    cache = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(cache, 'posefix_mm')


def resolve_path(path: str) -> str:
    """``path`` with ``posefix_mm://`` made a file of :func:`posefix_home`;
    any other path as it is."""
    if isinstance(path, str) and path.startswith(SCHEME):
        return osp.join(posefix_home(), path[len(SCHEME):])
    return path


def pretrained_file(path: str, what: str) -> str:
    """The local file of a pretrained-weights setting, or a one-line
    FileNotFoundError naming the setting, the file and how to make it."""
    local = resolve_path(path)
    if not osp.isfile(local):
        where = f' ({HOME_ENV}: {posefix_home()})' if path.startswith(
            SCHEME) else ''
        raise FileNotFoundError(
            f'{what}: no file {local}{where}; make it with {MAKE_WEIGHTS}'
            ' (or set it to None to train from scratch)')
    return local
