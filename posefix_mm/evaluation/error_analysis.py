"""Where a pose estimator fails: Ronchi & Perona's keypoint error taxonomy
(ICCV 2017; the coco-analyze tool) on COCO-style data, and what refinement
changed.

Every visible ground-truth keypoint of a matched (detection, person) pair is
labelled, with KS the keypoint similarity computed with the matched person's
``area`` and the joint's sigma (as in COCO's OKS):

==========  ===========================================================
good        KS to its own joint >= 0.85
jitter      0.5 <= KS to its own joint < 0.85
inversion   otherwise, KS >= 0.5 to the mirror joint of the same person
swap        otherwise, KS >= 0.5 to the same or mirror joint of another
            person of the image
miss        otherwise
==========  ===========================================================

The one-sided edges are explicit: KS exactly 0.85 is good and exactly 0.5
jitter (coco-analyze leaves KS = 0.85 in no class); when both an inversion
and a swap fit, inversion wins; a joint without a mirror (e.g. the nose)
cannot be an inversion.

Matching, as COCO evaluation: detections in descending score order (ties:
file order); each takes the still-unmatched person of the same image
(non-crowd, with keypoints) with the highest OKS, if that OKS >= 0.1.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from posefix_mm.utils.error_taxonomy import (ERROR_TYPES, GOOD, INVERSION,
                                             JITTER, KS_GOOD, KS_JITTER,
                                             MIN_MATCH_OKS, MISS, NO_GT, SWAP)
from posefix_mm.utils.keypoint_similarity import (keypoint_similarity,
                                                  object_keypoint_similarity)


def _persons(gt: dict) -> Dict[int, List[dict]]:
    """Non-crowd persons with keypoints, by image id, as arrays."""
    by_image = defaultdict(list)
    for ann in gt['annotations']:
        if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
            continue
        kpts = np.asarray(ann['keypoints'], np.float64).reshape(-1, 3)
        if not (kpts[:, 2] > 0).any():
            continue
        by_image[ann['image_id']].append(
            dict(
                id=ann['id'],
                keypoints=kpts[:, :2],
                visible=kpts[:, 2] > 0,
                area=float(ann['area'])))
    return by_image


def oks(det: np.ndarray, person: dict, sigmas: np.ndarray) -> float:
    """COCO's object keypoint similarity over the person's visible joints."""
    return float(
        object_keypoint_similarity(det, person['keypoints'],
                                   person['visible'],
                                   person['area'] + np.spacing(1), sigmas))


def match(gt: dict, results: List[dict], sigmas: np.ndarray) -> dict:
    """Greedy OKS matching of results to ground-truth persons.

    Returns:
        dict: ``pairs`` [(result index, image id, person index, oks)],
        ``unmatched_results`` [result index], ``unmatched_persons``
        [annotation id].
    """
    persons = _persons(gt)
    taken = defaultdict(set)
    order = sorted(range(len(results)), key=lambda i: -results[i]['score'])
    pairs, unmatched = [], []
    for i in order:
        image = results[i]['image_id']
        det = np.asarray(results[i]['keypoints'], np.float64).reshape(-1,
                                                                     3)[:, :2]
        best, best_oks = None, -1.
        for p, person in enumerate(persons.get(image, [])):
            if p in taken[image]:
                continue
            value = oks(det, person, sigmas)
            if value > best_oks:  # ties: the first person
                best, best_oks = p, value
        if best_oks < MIN_MATCH_OKS:
            best = None
        if best is None:
            unmatched.append(i)
        else:
            taken[image].add(best)
            pairs.append((i, image, best, best_oks))
    unmatched_persons = [
        person['id'] for image, people in persons.items()
        for p, person in enumerate(people) if p not in taken[image]
    ]
    return dict(
        pairs=pairs,
        unmatched_results=sorted(unmatched),
        unmatched_persons=sorted(unmatched_persons),
        persons=persons)


def label_keypoints(det: np.ndarray, person: dict, others: Sequence[dict],
                    sigmas: np.ndarray,
                    flip_indices: Sequence[int]) -> np.ndarray:
    """Error type of each keypoint of a matched pair.

    Args:
        det (np.ndarray): (K, 2) detected keypoints.
        person (dict): the matched person (``keypoints``, ``visible``,
            ``area``).
        others (Sequence[dict]): the other persons of the image.
        sigmas (np.ndarray): (K, ).
        flip_indices (Sequence[int]): mirror joint of each joint.

    Returns:
        np.ndarray: (K, ) types (0 good ... 4 miss), -1 for joints the
        person has no visible ground truth for.
    """
    flip = np.asarray(flip_indices)
    area = person['area']

    def ks(targets: np.ndarray) -> np.ndarray:
        return keypoint_similarity(((det - targets)**2).sum(-1), area, sigmas)

    own = ks(person['keypoints'])
    has_mirror = (flip != np.arange(len(flip))) & person['visible'][flip]
    inversion = has_mirror & (ks(person['keypoints'][flip]) >= KS_JITTER)
    swap = np.zeros(len(det), bool)
    for other in others:
        for targets, visible in ((other['keypoints'], other['visible']),
                                 (other['keypoints'][flip],
                                  other['visible'][flip])):
            swap |= visible & (ks(targets) >= KS_JITTER)
    labels = np.select([own >= KS_GOOD, own >= KS_JITTER, inversion, swap],
                       [GOOD, JITTER, INVERSION, SWAP], MISS)
    return np.where(person['visible'], labels, NO_GT)


def analyze(gt: dict, results: List[dict], sigmas: np.ndarray,
            flip_indices: Sequence[int],
            keypoint_names: Optional[Sequence[str]] = None) -> dict:
    """The error report of one results list.

    Returns:
        dict: ``counts`` and ``fractions`` per type over all labelled
        keypoints of matched pairs, ``per_joint`` {joint name: {counts,
        fractions}}, ``matched`` / ``unmatched_results`` /
        ``unmatched_persons`` counts, and ``instances``: per matched person
        (annotation id) the result index, OKS and labels.
    """
    matching = match(gt, results, sigmas)
    persons = matching['persons']
    num_kpt = len(sigmas)
    names = list(keypoint_names or [f'joint_{k}' for k in range(num_kpt)])
    per_joint = np.zeros((num_kpt, len(ERROR_TYPES)), int)
    instances = {}
    for i, image, p, value in matching['pairs']:
        det = np.asarray(results[i]['keypoints'],
                         np.float64).reshape(-1, 3)[:, :2]
        people = persons[image]
        labels = label_keypoints(det, people[p], people[:p] + people[p + 1:],
                                 sigmas, flip_indices)
        for k, t in enumerate(labels):
            if t >= 0:
                per_joint[k, t] += 1
        instances[people[p]['id']] = dict(
            result=i, oks=value, labels=labels.tolist())
    counts = per_joint.sum(0)
    return dict(
        counts=dict(zip(ERROR_TYPES, counts.tolist())),
        fractions=_fractions(counts),
        per_joint={
            name: dict(
                counts=dict(zip(ERROR_TYPES, row.tolist())),
                fractions=_fractions(row))
            for name, row in zip(names, per_joint)
        },
        matched=len(matching['pairs']),
        unmatched_results=len(matching['unmatched_results']),
        unmatched_persons=len(matching['unmatched_persons']),
        instances=instances)


def _fractions(counts: np.ndarray) -> dict:
    total = counts.sum()
    values = counts / total if total else np.zeros(len(counts))
    return dict(zip(ERROR_TYPES, values.tolist()))


def compare(before: dict, after: dict) -> dict:
    """What refinement changed, over persons matched in both reports.

    Returns:
        dict: ``transitions`` (5 x 5 counts, rows: input type, columns:
        refined type, over keypoints labelled in both), and per person
        (annotation id) the OKS before and after (``oks_pairs``).
    """
    matrix = np.zeros((len(ERROR_TYPES), len(ERROR_TYPES)), int)
    oks_pairs = {}
    for person, inst in before['instances'].items():
        other = after['instances'].get(person)
        if other is None:
            continue
        oks_pairs[person] = (inst['oks'], other['oks'])
        for a, b in zip(inst['labels'], other['labels']):
            if a >= 0 and b >= 0:
                matrix[a, b] += 1
    return dict(transitions=matrix.tolist(), oks_pairs=oks_pairs)
