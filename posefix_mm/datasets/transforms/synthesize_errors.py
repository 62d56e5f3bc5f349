"""Training-time input poses: ground truth corrupted with realistic errors
(PoseFix paper, section 4; the official code's rules)."""
import warnings
from typing import Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import bbox_overlaps

from posefix_mm.utils.error_taxonomy import KS_GOOD, KS_JITTER
from posefix_mm.utils.keypoint_similarity import ks_distance
from .error_sampling import (KS_MISS_MAX, build_anchors, draw_types,
                             fill_unlabeled, sample_points,
                             structurally_feasible)
from .error_tables import (COCO_ERROR_TABLES, derive_error_tables,
                           joint_type_probabilities, load_error_tables,
                           tables_num_keypoints, validate_error_tables)

UNLABELED_POLICIES = ('box', 'prediction', 'omit')


@TRANSFORMS.register_module()
class SynthesizePoseErrors(BaseTransform):
    """Make the input pose of a training sample by corrupting its ground
    truth with the error types of Ronchi & Perona: good, jitter, inversion,
    swap and miss (PoseFix, section 4).

    Runs on image coordinates, before ``GetBBoxCenterScale``. For each
    labelled joint one type is drawn from per-joint probability tables
    (which depend on the number of labelled joints ``nv`` and the number of
    overlapping persons), and the point is placed at a random angle and
    radius in the type's ring, in keypoint-similarity units
    ``d_k = sqrt(-2 * area * (2 * sigma)^2 * ln k)`` with ``area`` the area of
    ``bbox``:

    ============ ======================== ==================================
    type         around                   radius
    ============ ======================== ==================================
    good         own joint j              [0, d_0.85)
    jitter       own joint j              [d_0.85, d_0.5)
    inversion    mirror joint j'          [0, d_0.5)
    swap         j or j' of an overlap-   [0, d_0.5)
                 ping person
    miss         any of those (own x4)    [d_0.5, d_0.1)
    ============ ======================== ==================================

    Each point obeys its type's rule (see :func:`sample_points`). A type
    that cannot be sampled for a joint (no mirror joint or it is unlabelled,
    no overlapping person, or no candidate obeys the rule) gets probability 0
    and the others are renormalised.

    Unlabelled joints (no ground truth) get ``synth_error_types`` -1, and so
    does a labelled joint for which no type can be sampled (only degenerate
    annotations, e.g. every anchor on one point); both get an input point
    as described next. At test
    time every input joint is present, so by default (``unlabeled='box'``)
    they are given a uniformly random point inside ``bbox``, like a miss of
    an estimator; ``'prediction'`` takes ``pred_keypoints`` (an estimator's
    training-set prediction, as the official code does; see
    ``PoseFixCocoDataset(predictions_file=...)``) where present, else a box
    point; ``'omit'`` marks them invisible in the input.

    Absent joints (``absent_rate``): many estimators write a joint they did
    not find as (0, 0), which refinement treats as absent (an empty input
    channel; see :func:`~posefix_mm.datasets.coco_results.present_joints`).
    So that the refiner learns to estimate such joints from the image, each
    sample draws a rate uniformly in [0, ``absent_rate``] and marks each
    joint absent with that rate: ``input_keypoints_visible`` 0 and the input
    point at (0, 0), as in a results file. Its ground truth still
    supervises it.

    Required Keys:

        - keypoints (np.ndarray): (1, K, 2)
        - keypoints_visible (np.ndarray): (1, K)
        - bbox (np.ndarray): (1, 4) xyxy
        - other_keypoints (np.ndarray): (M, K, 2)
        - other_keypoints_visible (np.ndarray): (M, K)
        - other_bboxes (np.ndarray): (M, 4) xyxy
        - sigmas (np.ndarray): (K, )
        - flip_indices (list[int]): (K, )
        - upper_body_ids, lower_body_ids (only for skeletons without tables)
        - pred_keypoints (np.ndarray): (1, K, 2), optional
        - pred_keypoints_visible (np.ndarray): (1, K), optional

    Added Keys:

        - input_keypoints (np.ndarray): (1, K, 2) float32
        - input_keypoints_visible (np.ndarray): (1, K) float32, 0 where
          the joint is absent (or omitted)
        - synth_error_types (np.ndarray): (1, K) int64: 0 good, 1 jitter,
          2 inversion, 3 swap, 4 miss, -1 no ground truth

    Args:
        error_tables (dict | str, optional): per-joint probabilities, see
            :mod:`.error_tables`, or a JSON file of them (e.g. fitted to an
            estimator by ``tools/fit_error_tables.py``). Defaults to the
            official COCO tables for 17 keypoints; other skeletons get
            :func:`derive_error_tables` and a warning.
        overlap_iou_thr (float): other persons count as overlapping (swap
            sources, miss anchors, crowd count) at this box IoU. Default 0.1.
        num_candidates (int): candidate points per type and joint. Default 16.
        miss_own_weight (float): weight of the own joint among the anchors
            of a miss (the others weigh 1). Default 4.
        unlabeled (str): ``'box'``, ``'prediction'`` or ``'omit'``.
        absent_rate (float): the largest share of absent joints a sample
            can draw, in [0, 1]. Default 0 (the paper: every joint given).
        seed (int, optional): make every instance's input pose a fixed
            function of (seed, annotation ``id``), whatever the order,
            workers or global seed (for evaluation on synthetic inputs).
            Default None: MMEngine's seeded global generator.
    """

    def __init__(self,
                 error_tables: Optional[Union[dict, str]] = None,
                 overlap_iou_thr: float = 0.1,
                 num_candidates: int = 16,
                 miss_own_weight: float = 4.0,
                 unlabeled: str = 'box',
                 absent_rate: float = 0.0,
                 seed: Optional[int] = None):
        super().__init__()
        if isinstance(error_tables, str):
            error_tables = load_error_tables(error_tables)
        elif error_tables is not None:
            validate_error_tables(error_tables)
        if not 0 <= overlap_iou_thr <= 1:
            raise ValueError(
                f'overlap_iou_thr must be in [0, 1], got {overlap_iou_thr}')
        if num_candidates < 1:
            raise ValueError(
                f'num_candidates must be >= 1, got {num_candidates}')
        if miss_own_weight <= 0:
            raise ValueError(
                f'miss_own_weight must be > 0, got {miss_own_weight}')
        if unlabeled not in UNLABELED_POLICIES:
            raise ValueError(f'unlabeled must be one of {UNLABELED_POLICIES}'
                             f', got {unlabeled!r}')
        if not 0 <= absent_rate <= 1:
            raise ValueError(
                f'absent_rate must be in [0, 1], got {absent_rate}')
        self.error_tables = error_tables
        self.overlap_iou_thr = overlap_iou_thr
        self.num_candidates = num_candidates
        self.miss_own_weight = miss_own_weight
        self.unlabeled = unlabeled
        self.absent_rate = absent_rate
        self.seed = seed
        self._tables_cache = {}
        self._probs_cache = {}
        self._unit_rings = {}

    def _probabilities(self, tables: dict, nv: int,
                       overlap: int) -> np.ndarray:
        """Type probabilities per joint, cached: they depend on the skeleton,
        nv and the overlap count only (callers must not modify them)."""
        key = (id(tables), nv, overlap)
        if key not in self._probs_cache:
            self._probs_cache[key] = joint_type_probabilities(
                tables, nv, overlap)
        return self._probs_cache[key]

    def tables_for(self, results: dict) -> dict:
        """The error tables for the skeleton of ``results``."""
        num_kpt = results['keypoints'].shape[1]
        if num_kpt in self._tables_cache:
            return self._tables_cache[num_kpt]
        if self.error_tables is not None:
            tables = self.error_tables
        elif num_kpt == 17:
            tables = COCO_ERROR_TABLES
        else:
            warnings.warn(
                f'SynthesizePoseErrors: no error tables for {num_kpt} '
                'keypoints; deriving them from the COCO tables by '
                'upper_body_ids / lower_body_ids (see derive_error_tables)')
            tables = derive_error_tables(num_kpt, results['upper_body_ids'],
                                         results['lower_body_ids'])
        if tables_num_keypoints(tables) != num_kpt:
            raise ValueError(
                f'error_tables are for {tables_num_keypoints(tables)} '
                f'keypoints, the sample has {num_kpt}')
        self._tables_cache[num_kpt] = tables
        return tables

    @cache_randomness
    def _draw(self, num_kpt: int, instance_id: int) -> dict:
        """Every random number of one sample."""
        rng = np.random
        if self.seed is not None:
            rng = np.random.RandomState(
                np.random.SeedSequence([self.seed,
                                        instance_id]).generate_state(1)[0])
        shape = (num_kpt, 5, self.num_candidates)
        return dict(
            angle=rng.uniform(0, 2 * np.pi, shape),
            radius=rng.rand(*shape),
            anchor=rng.rand(num_kpt, self.num_candidates),
            type=rng.rand(num_kpt),
            box_point=rng.rand(num_kpt, 2),
            absent_rate=rng.rand(),
            absent=rng.rand(num_kpt))

    def _overlapping(self, results: dict):
        others = results['other_keypoints'].reshape(-1, *results[
            'keypoints'].shape[1:])
        if len(others) == 0:
            return others, np.zeros(others.shape[:2], bool)
        iou = bbox_overlaps(
            torch.as_tensor(results['other_bboxes'].reshape(-1, 4)),
            torch.as_tensor(results['bbox'][:1]), eps=1e-12)[:, 0].numpy()
        keep = iou >= self.overlap_iou_thr
        return others[keep], results['other_keypoints_visible'][keep] > 0

    def _rings(self, area: float, sigmas: np.ndarray) -> np.ndarray:
        """(K, 5, 2) [low, high) radius of each error type.

        Every radius is sqrt(area) times a constant of the joint's sigma,
        cached per skeleton.
        """
        key = sigmas.tobytes()
        if key not in self._unit_rings:
            d_good, d_jitter, d_miss = ks_distance(
                np.array([[KS_GOOD], [KS_JITTER], [KS_MISS_MAX]]), 1.0, sigmas)
            zero = np.zeros_like(d_good)
            low = np.stack([zero, d_good, zero, zero, d_jitter], 1)
            high = np.stack([d_good, d_jitter, d_jitter, d_jitter, d_miss], 1)
            self._unit_rings[key] = np.stack([low, high], -1)
        return self._unit_rings[key] * np.sqrt(area)

    def transform(self, results: dict) -> dict:
        tables = self.tables_for(results)
        keypoints = results['keypoints'][0].astype(np.float64)
        visible = results['keypoints_visible'][0] > 0
        x1, y1, x2, y2 = results['bbox'][0]
        others, others_visible = self._overlapping(results)
        rand = self._draw(len(keypoints), int(results.get('id', 0)))
        anchors, valid = build_anchors(keypoints, visible,
                                       np.asarray(results['flip_indices'],
                                                  dtype=np.intp),
                                       others, others_visible)
        radii = self._rings(
            max((x2 - x1) * (y2 - y1), 1.0), np.asarray(results['sigmas']))
        probs = self._probabilities(tables, int(visible.sum()), len(others))
        feasible = structurally_feasible(valid)
        types = draw_types(probs, feasible, rand['type'])
        # all joints at once (those without ground truth are discarded); a
        # joint none of whose candidates obeys its type's rule (rare) loses
        # that type and draws again from the rest
        cand, ok = sample_points(
            np.maximum(types, 0), anchors, valid, radii, rand,
            self.miss_own_weight)
        points = cand[np.arange(len(types)), ok.argmax(1)]
        failed = np.flatnonzero((types >= 0) & ~ok.any(1))
        while len(failed):
            feasible[failed, types[failed]] = False
            types[failed] = draw_types(probs[failed], feasible[failed],
                                       rand['type'][failed])
            retry = failed[types[failed] >= 0]
            cand, ok = sample_points(types[retry], anchors[retry],
                                     valid[retry], radii[retry],
                                     {k: rand[k][retry]
                                      for k in ('angle', 'radius',
                                                'anchor')},
                                     self.miss_own_weight)
            points[retry] = cand[np.arange(len(retry)), ok.argmax(1)]
            failed = retry[~ok.any(1)]

        input_kpts, input_visible = fill_unlabeled(
            results, self.unlabeled, points, types >= 0, rand['box_point'])
        absent = rand['absent'] < rand['absent_rate'] * self.absent_rate
        input_kpts[absent] = 0
        input_visible[absent] = 0
        results['input_keypoints'] = input_kpts[None].astype(np.float32)
        results['input_keypoints_visible'] = input_visible[None].astype(
            np.float32)
        results['synth_error_types'] = types[None].astype(np.int64)
        return results

    def __repr__(self) -> str:
        tables = 'COCO/derived' if self.error_tables is None else 'custom'
        return (f'{self.__class__.__name__}(error_tables={tables}, '
                f'overlap_iou_thr={self.overlap_iou_thr}, '
                f'num_candidates={self.num_candidates}, '
                f'miss_own_weight={self.miss_own_weight}, '
                f'unlabeled={self.unlabeled!r}, '
                f'absent_rate={self.absent_rate}, seed={self.seed})')
