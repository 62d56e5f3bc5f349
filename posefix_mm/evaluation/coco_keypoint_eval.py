"""COCO keypoint AP/AR of a results list as it is: xtcocotools' COCOeval
with the keypoint sigmas and the ground truth's object areas, each entry
ranked by its own ``score``: what pycocotools gives for a results file.

It is not MMPose's ``CocoMetric``, which first rescores each pose (by
default its instance score times the mean of its joint scores above 0.2)
and removes duplicates by OKS NMS (0.9): the same poses can score a little
differently there (``InputPoseCocoMetric`` on BlazePose's coco_mini val
file, 0.002 AP)."""
import contextlib
import io
import json
import os
import tempfile
from typing import List, Optional, Sequence

import numpy as np
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

STATS_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5',
               'AR .75', 'AR (M)', 'AR (L)')


def cocoeval_keypoints(coco_gt: COCO,
                       results: List[dict],
                       sigmas: np.ndarray,
                       img_ids: Optional[Sequence[int]] = None) -> dict:
    """AP/AR of ``results`` against ``coco_gt`` (COCOeval's keypoint stats).

    Args:
        coco_gt (COCO): ground truth.
        results (list[dict]): COCO keypoint results.
        sigmas (np.ndarray): (K, ) per-joint sigmas.
        img_ids (Sequence[int], optional): evaluate on these images only
            (default: every image of ``coco_gt``).

    Returns:
        dict: stat name (``AP``, ``AP .5``, ...) -> value; all 0 for an empty
        list.
    """
    if not results:
        return {name: 0.0 for name in STATS_NAMES}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'results.json')
        with open(path, 'w') as f:
            json.dump(results, f)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(path)
            coco_eval = COCOeval(coco_gt, coco_dt, 'keypoints', sigmas, True)
            coco_eval.params.useSegm = None
            if img_ids is not None:
                coco_eval.params.imgIds = sorted(set(img_ids))
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
    return dict(zip(STATS_NAMES, map(float, coco_eval.stats)))


def format_ap_table(columns: dict) -> str:
    """A table of stats, one column per name, e.g. {'input': ..., 'refined':
    ...}, plus the change from the first column to the last."""
    names = list(columns)
    header = ''.join(f'{n:>10s}' for n in names)
    rows = [f'{"":8s}{header}{"change":>10s}']
    for stat in STATS_NAMES:
        values = [columns[n][stat] for n in names]
        rows.append(f'{stat:8s}' + ''.join(f'{v:10.3f}' for v in values) +
                    f'{values[-1] - values[0]:+10.3f}')
    return '\n'.join(rows)
