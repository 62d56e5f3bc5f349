"""Error tables fitted to an estimator: how often its joints are good,
jitter, inversion, swap or miss (Ronchi & Perona's taxonomy, as
:mod:`posefix_mm.evaluation.error_analysis` labels them, but with keypoint
similarity measured in the person's box area as ``SynthesizePoseErrors``
places its errors),
per joint and in the bins the default tables condition on (the number of
labelled joints of the person, and for swaps whether the person is
crowded), so that ``SynthesizePoseErrors`` synthesizes the errors of that
estimator.

The PoseFix authors' tables describe the 2016 COCO challenge winners; asked
how to get them for another estimator (PoseFix_RELEASE #37), this is the
measurement: match the estimator's results on a labelled split to the ground
truth, label every keypoint, count.
"""
from collections import defaultdict
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmpose.structures.bbox import bbox_overlaps

from posefix_mm.datasets.coco_results import present_joints
from posefix_mm.datasets.transforms.error_sampling import (MIRROR,
                                                           build_anchors,
                                                           synthesis_types)
from posefix_mm.datasets.transforms.error_tables import (
    COCO_ERROR_TABLES, row_at, validate_error_tables)
from posefix_mm.utils.error_taxonomy import INVERSION, JITTER, MISS, SWAP
from .error_analysis import match

#: which type each table counts; 'swap' for persons not crowded, 'swap_crowded'
#: for crowded ones
TABLE_TYPES = dict(
    jitter=JITTER, miss=MISS, inversion=INVERSION, swap=SWAP,
    swap_crowded=SWAP)


def _boxes(gt: dict, iou_thr: float) -> dict:
    """Annotation id -> (box area, ids of the other non-crowd persons of its
    image whose box overlaps at IoU >= ``iou_thr``), as
    ``SynthesizePoseErrors`` measures them."""
    by_image = defaultdict(list)
    for ann in gt['annotations']:
        if not ann.get('iscrowd', 0) and 'bbox' in ann:
            by_image[ann['image_id']].append(ann)
    boxes = {}
    for anns in by_image.values():
        xyxy = torch.tensor([a['bbox'] for a in anns], dtype=torch.float64)
        xyxy[:, 2:] += xyxy[:, :2]
        iou = bbox_overlaps(xyxy, xyxy, eps=1e-12).numpy()
        for i, ann in enumerate(anns):
            overlapping = [
                b['id'] for j, b in enumerate(anns)
                if j != i and iou[i, j] >= iou_thr
            ]
            boxes[ann['id']] = (ann['bbox'][2] * ann['bbox'][3], overlapping)
    return boxes


class ErrorTableFitter:
    """Counts error types of an estimator's keypoints; :meth:`tables` fits
    a table set to them.

    The synthesis draws a type from the table row of each key (by the
    person's labelled joints, and crowdedness for swaps), and where an
    inversion or a swap cannot be made (no labelled mirror joint, no
    overlapping person with the joint) it renormalises over the rest. The
    fit is the maximum-likelihood table set under that model (EM over the
    draws that renormalisation discards), so that synthesizing with the
    fitted tables reproduces the estimator's frequencies.

    Args:
        sigmas (np.ndarray): (K, ) keypoint sigmas.
        flip_indices (Sequence[int]): mirror joint of each joint.
        reference (dict): the table set whose bins (``max_nv`` rows, all of
            them for every key; the ``crowded`` rule) the fitted tables
            take, and whose values fill entries without data. Default:
            COCO's.
        pool_mirrors (bool): a joint and its mirror share their entries
            (left and right alike, as in the default tables; twice the data
            per entry). Default True.
        overlap_iou_thr (float): box IoU at which persons overlap. 0.1, as
            ``SynthesizePoseErrors``.
        absent_score_thr (float, optional): see
            :func:`~posefix_mm.datasets.coco_results.present_joints`; absent
            joints are counted apart (``absent_share``), not as misses.
    """

    def __init__(self,
                 sigmas: np.ndarray,
                 flip_indices: Sequence[int],
                 reference: dict = COCO_ERROR_TABLES,
                 pool_mirrors: bool = True,
                 overlap_iou_thr: float = 0.1,
                 absent_score_thr: Optional[float] = None):
        self.sigmas = np.asarray(sigmas)
        self.flip_indices = np.asarray(flip_indices)
        # every key gets the same rows (the union of the reference's
        # max_nv bins): within a row all types share their persons, so
        # the fitted probabilities of a joint never sum to more than 1
        limits = sorted({
            max_nv for key in TABLE_TYPES for max_nv, _ in reference[key]
            if max_nv is not None
        }) + [None]
        k = len(self.sigmas)
        self.reference = dict(
            {
                key: [[m, row_at(reference[key], k if m is None else m)]
                      for m in limits]
                for key in TABLE_TYPES
            },
            crowded=reference['crowded'])
        self.pool_mirrors = pool_mirrors
        self.overlap_iou_thr = overlap_iou_thr
        self.absent_score_thr = absent_score_thr
        # one row per labelled, present joint of a matched person
        self.observations = defaultdict(list)
        self.present = np.zeros(k, np.int64)
        self.absent = np.zeros(k, np.int64)
        self.matched = self.unmatched = 0

    def _row(self, nv: int) -> int:
        for i, (max_nv, _) in enumerate(self.reference['jitter']):
            if max_nv is None or nv <= max_nv:
                return i
        raise AssertionError('validated tables end with a max_nv None row')

    def _crowded(self, nv: int, overlap: int) -> bool:
        return any(nv <= max_nv and overlap >= min_overlap
                   for max_nv, min_overlap in self.reference['crowded'])

    def add(self, gt: dict, results: List[dict]) -> None:
        """Count the keypoints of one results list (any estimator's COCO
        keypoint results) on the ground truth ``gt`` (COCO annotations)."""
        matched = match(gt, results, self.sigmas)
        persons = matched['persons']
        boxes = _boxes(gt, self.overlap_iou_thr)
        self.matched += len(matched['pairs'])
        self.unmatched += len(matched['unmatched_results'])
        flip = self.flip_indices
        for index, image_id, p, _ in matched['pairs']:
            person = persons[image_id][p]
            others = [o for o in persons[image_id] if o is not person]
            # labelled as the synthesis places errors: keypoint similarity
            # with the box area (COCO's OKS takes the segment area, about
            # half of it), anchors of the overlapping persons only
            box_area, overlapping = boxes.get(person['id'],
                                              (person['area'], []))
            det = np.asarray(results[index]['keypoints'],
                             np.float64).reshape(-1, 3)
            present = present_joints(det[:, :2], det[:, 2],
                                     self.absent_score_thr)
            visible = person['visible']
            near = [o for o in others if o['id'] in overlapping]
            anchors, valid = build_anchors(
                person['keypoints'], visible, flip,
                np.array([o['keypoints'] for o in near]).reshape(
                    -1, len(flip), 2),
                np.array([o['visible'] for o in near],
                         bool).reshape(-1, len(flip)))
            labels = synthesis_types(det[:, :2], anchors, valid, box_area,
                                     self.sigmas)
            self.present += visible & present
            self.absent += visible & ~present
            # where the synthesis could make an inversion, a swap
            can_invert, can_swap = valid[:, MIRROR], valid[:, 2:].any(1)
            nv = int(visible.sum())
            crowded = self._crowded(nv, len(overlapping))
            for j in np.flatnonzero(visible & present):
                obs = self.observations
                obs['joint'].append(j)
                obs['type'].append(labels[j])
                obs['row'].append(self._row(nv))  # every key's rows alike
                obs['crowded'].append(crowded)
                obs['can_invert'].append(can_invert[j])
                obs['can_swap'].append(can_swap[j])

    def _fit(self, iterations: int = 200):
        """EM estimates: (table key -> (rows, K) probabilities, labelled
        joints n, of the type k)."""
        obs = {key: np.asarray(v) for key, v in self.observations.items()}
        k_joints = len(self.sigmas)
        joint = obs['joint']
        if self.pool_mirrors:
            joint = np.minimum(joint, self.flip_indices[joint])
        # each key's cells: (row, joint); swap and swap_crowded are apart
        row, everyone = obs['row'], np.ones(len(joint), bool)
        cells = dict(
            jitter=(row, everyone, JITTER),
            miss=(row, everyone, MISS),
            inversion=(row, everyone, INVERSION),
            swap=(row, ~obs['crowded'], SWAP),
            swap_crowded=(row, obs['crowded'], SWAP))
        theta = {
            key: np.array([row[1] for row in self.reference[key]], float)
            for key in TABLE_TYPES
        }

        def cell_sum(key, weights):
            rows, member, _ = cells[key]
            index = rows[member] * k_joints + joint[member]
            size = len(self.reference[key]) * k_joints
            return np.bincount(
                index, weights[member], minlength=size).reshape(-1, k_joints)

        # joints where the type could be drawn (inversions and swaps are
        # not everywhere): the data behind each entry
        feasible = dict(
            inversion=obs['can_invert'], swap=obs['can_swap'],
            swap_crowded=obs['can_swap'])
        n = {
            key: cell_sum(key, feasible.get(key, np.ones(len(joint))) * 1.)
            for key in TABLE_TYPES
        }
        hits = {
            key: cell_sum(key, (obs['type'] == cells[key][2]).astype(float))
            for key in TABLE_TYPES
        }
        for _ in range(iterations):
            p_inv = theta['inversion'][row, joint]
            p_swap = np.where(
                obs['crowded'], theta['swap_crowded'][row, joint],
                theta['swap'][row, joint])
            lost_inv = p_inv * ~obs['can_invert']
            lost_swap = p_swap * ~obs['can_swap']
            kept = 1 - lost_inv - lost_swap
            draws = 1 / kept  # accepted and discarded draws per joint
            total = {key: cell_sum(key, draws) for key in TABLE_TYPES}
            extra = dict(
                inversion=cell_sum('inversion', lost_inv / kept),
                swap=cell_sum('swap', lost_swap / kept),
                swap_crowded=cell_sum('swap_crowded', lost_swap / kept))
            for key in TABLE_TYPES:
                fitted = (hits[key] + extra.get(key, 0)) / np.maximum(
                    total[key], 1e-12)
                theta[key] = np.where(n[key] > 0, fitted, theta[key])
        if self.pool_mirrors:
            for key in TABLE_TYPES:
                canonical = np.minimum(np.arange(k_joints), self.flip_indices)
                theta[key] = theta[key][:, canonical]
                n[key] = n[key][:, canonical]
                hits[key] = hits[key][:, canonical]
        return theta, n, hits

    def tables(self) -> dict:
        """The fitted table set (``SynthesizePoseErrors(error_tables=...)``)
        and what backs it: ``counts`` (per key and row: ``max_nv``, the
        labelled present joints ``n`` where the type could occur (a
        labelled mirror joint for inversions, an overlapping person's joint
        for swaps) and those of the type ``k``, per joint, mirrors pooled;
        an entry with ``n`` 0 keeps the reference value),
        ``absent_share`` per joint and ``absent_rate`` (the
        ``SynthesizePoseErrors(absent_rate=...)`` whose mean share, half the
        rate, matches the estimator's), ``swap_crowded_clipped`` (entries
        lowered so that a crowded person's probabilities sum to at most 1),
        ``matched`` / ``unmatched`` results.
        """
        if not self.observations:
            raise ValueError('no labelled keypoint of a matched result: '
                             'nothing to fit (wrong annotations?)')
        theta, n, hits = self._fit()
        # a row's jitter, miss and inversion are fitted on all its persons,
        # swap_crowded on the crowded ones only: where a sparse row makes
        # them sum to more than 1 for a crowded person, swap_crowded takes
        # what is left
        rest = 1 - theta['jitter'] - theta['miss'] - theta['inversion']
        clipped = theta['swap_crowded'] > rest
        theta['swap_crowded'] = np.clip(theta['swap_crowded'], 0,
                                        np.maximum(rest, 0))
        tables = {
            key: [[max_nv, np.round(theta[key][i], 4).tolist()]
                  for i, (max_nv, _) in enumerate(self.reference[key])]
            for key in TABLE_TYPES
        }
        tables['crowded'] = [list(r) for r in self.reference['crowded']]
        validate_error_tables(tables, len(self.sigmas))
        counts = {
            key: [
                dict(max_nv=max_nv, n=n[key][i].astype(int).tolist(),
                     k=hits[key][i].astype(int).tolist())
                for i, (max_nv, _) in enumerate(self.reference[key])
            ]
            for key in TABLE_TYPES
        }
        total = self.present + self.absent
        share = np.where(total > 0, self.absent / np.maximum(total, 1), 0.)
        overall = self.absent.sum() / max(total.sum(), 1)
        return dict(
            error_tables=tables,
            counts=counts,
            absent_share=np.round(share, 4).tolist(),
            absent_rate=round(float(min(1., 2 * overall)), 4),
            swap_crowded_clipped=int(clipped.sum()),
            matched=self.matched,
            unmatched=self.unmatched)
