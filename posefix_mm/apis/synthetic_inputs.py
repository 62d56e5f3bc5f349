"""Synthetic inputs made from the ground truth, for decision reports and
for choosing settings on training images: the official error tables
("default"), every joint "good", and a strong top-down estimator
("strong")."""
import copy
from typing import Optional

import numpy as np
from mmpose.registry import DATASETS

from posefix_mm.datasets.coco_results import coco_entry
from posefix_mm.datasets.transforms import (COCO_ERROR_TABLES,
                                            SynthesizePoseErrors)
from posefix_mm.utils.error_taxonomy import (GOOD, INVERSION, JITTER, MISS,
                                             SWAP)

#: the synthetic input families: the official error tables, every joint
#: "good", and a strong top-down estimator (:func:`scaled_tables`)
SYNTHETIC_KINDS = ('default', 'good', 'strong')

#: the strong family: a strong top-down model's error level. The official
#: tables' error probabilities times STRONG_ERROR_SCALE, and the "good"
#: joints' offsets from the truth times STRONG_GOOD_SHRINK (a strong
#: model's good joints are tighter than the taxonomy's ring, uniform up to
#: KS 0.85). Chosen on coco_mini *train* with the demo refiner, so that, as
#: on the one real strong model measured (a top-down model on 4 coco_mini
#: val images: input AP 0.861, the refined joint nearer the truth in 39% of
#: the moves, every joint refined -0.079 AP), the refined joint is nearer
#: in about a third of the moves: 36%, input AP 0.82, every joint refined
#: -0.15 (0.25 and 0.25: 18%; 0.1 and 0.5: 32%, input AP 0.91).
STRONG_ERROR_SCALE = 0.25
STRONG_GOOD_SHRINK = 0.5

#: the strong family's joint scores, drawn uniformly per error type:
#: overlapping ranges, so that a score says something of a joint's error
#: without deciding it, as a top-down model's heatmap maxima do
STRONG_SCORES = {
    GOOD: (0.6, 0.95),
    JITTER: (0.45, 0.9),
    INVERSION: (0.3, 0.8),
    SWAP: (0.3, 0.8),
    MISS: (0.1, 0.7),
}


def scaled_tables(scale: float) -> dict:
    """The official error tables with every error probability times
    ``scale`` ("good" takes the rest): 0 gives every joint "good"."""
    tables = copy.deepcopy(COCO_ERROR_TABLES)
    for key in ('jitter', 'miss', 'inversion', 'swap', 'swap_crowded'):
        for row in tables[key]:
            row[1] = [p * scale for p in row[1]]
    return tables


def good_only_tables() -> dict:
    """Error tables under which every joint is synthesized "good"."""
    return scaled_tables(0.0)


def _family_tables(kind: str) -> Optional[dict]:
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f'synthetic: one of {SYNTHETIC_KINDS}, got '
                         f'{kind!r}')
    return dict(
        default=None,
        good=good_only_tables(),
        strong=scaled_tables(STRONG_ERROR_SCALE))[kind]


def synthetic_results(ann: str, img_dir: str, kind: str, seed: int,
                      absent_rate: float, img_ids=None) -> list:
    """COCO results whose poses are synthesized from the ground truth of
    every person (of the images ``img_ids``, default all); an absent joint
    is written (0, 0, 0), as estimators do."""
    dataset = DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root='',
            ann_file=ann,
            data_prefix=dict(img=img_dir),
            pipeline=[]))
    synth = SynthesizePoseErrors(
        error_tables=_family_tables(kind), absent_rate=absent_rate,
        seed=seed)
    rng = np.random.default_rng(seed)
    wanted = None if img_ids is None else set(img_ids)
    results = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if wanted is not None and info['img_id'] not in wanted:
            continue
        info = synth(info)
        present = info['input_keypoints_visible'][0]
        scores = present
        if kind == 'strong':
            # a strong model's "good" joints are tighter than the
            # taxonomy's ring (uniform up to KS 0.85)
            gt, types = info['keypoints'][0], info['synth_error_types'][0]
            near = (types == GOOD)[:, None]
            info['input_keypoints'][0] = np.where(
                near, gt + STRONG_GOOD_SHRINK *
                (info['input_keypoints'][0] - gt), info['input_keypoints'][0])
            low, high = np.array([
                STRONG_SCORES.get(t, STRONG_SCORES[MISS])
                for t in info['synth_error_types'][0]
            ]).T
            scores = rng.uniform(low, high) * present
        results.append(
            coco_entry(info['img_id'],
                       info['input_keypoints'][0] * present[:, None],
                       scores))
    return results
