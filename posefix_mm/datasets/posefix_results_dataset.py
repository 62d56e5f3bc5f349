"""Test-time PoseFix input: another method's COCO keypoint results."""
import os.path as osp
from collections import Counter
from typing import Optional

import numpy as np

from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from .coco_results import (PERSON_CATEGORY, UnusableEntry,
                           input_pose_sample, load_coco_results,
                           split_keypoints)
from .metainfo import mmpose_dataset_info


@DATASETS.register_module()
class PoseFixResultsDataset(BaseCocoStyleDataset):
    """One sample per person result of any method, for refinement.

    Reads a COCO keypoint results list (``image_id``, ``category_id``,
    ``keypoints`` [3K], ``score``), checked entry by entry before any work
    (:func:`load_coco_results`). No box is needed: by default
    (``box_source='auto'``) an entry's ``bbox`` ([x, y, w, h]) is used when
    it has one, else, as in the official code, the extent of its present
    input keypoints x1.2 (each side at least 20 px); ``GetBBoxCenterScale``
    then pads it by 1.25 and ``TopdownAffine`` fixes its aspect ratio (see
    :func:`~.coco_results.input_box`). Every input keypoint is rendered
    whatever its score, except *absent* joints: at (0, 0) exactly, or with
    ``absent_score_thr``, scored at or below it
    (:func:`~.coco_results.present_joints`); those get an empty input map
    and the refiner estimates them from the image.

    Kept: person entries (``category_id`` 1) with ``score`` > 0 whose image
    exists (and, with ``ann_file``, whose ``image_id`` is annotated) and for
    which a box can be made. The others are counted in :attr:`skipped`
    (reason -> count) and listed in :attr:`skipped_entries` ((entry index,
    reason)); :attr:`entries` holds the whole results list as loaded.

    Each sample carries ``input_keypoints`` (1, K, 2) and
    ``input_keypoints_visible`` (1, K) in image coordinates, ``bbox``,
    ``bbox_score`` (the input score), ``input_keypoint_scores`` (K, ) and
    ``id`` = the entry's index in the results list.

    Args:
        input_file (str): the results file.
        ann_file (str): optional COCO annotations, for image file names and
            to skip unknown images; without it images are found by
            ``image_name.format(image_id)``.
        image_name (str): file name pattern of an image id. COCO's default.
        box_source (str): ``'auto'``, ``'keypoints'``, ``'bbox'`` or
            ``'union'``, see :func:`~.coco_results.input_box`.
        absent_score_thr (float, optional): joints scored at or below it
            are absent. Default None: only joints at (0, 0).
        box_extend (float): box = keypoint extent x this. 1.2.
        min_box_size (float): minimum box side in pixels. 20.
        **kwargs: ``data_prefix=dict(img=DIR)``, ``pipeline``, ... of
            ``BaseCocoStyleDataset``.
    """

    METAINFO = mmpose_dataset_info('coco.py')

    def __init__(self,
                 input_file: str,
                 ann_file: str = '',
                 image_name: str = '{:012d}.jpg',
                 box_source: str = 'auto',
                 absent_score_thr: Optional[float] = None,
                 box_extend: float = 1.2,
                 min_box_size: float = 20.,
                 **kwargs):
        self.input_file = input_file
        self.image_name = image_name
        self.box_source = box_source
        self.absent_score_thr = absent_score_thr
        self.box_extend = box_extend
        self.min_box_size = min_box_size
        self.skipped = Counter()
        self.skipped_entries = []
        self.entries = []  # the results list, every entry
        self.missing_images = []  # the image paths not found, in order
        kwargs.setdefault('test_mode', True)
        super().__init__(ann_file=ann_file, **kwargs)

    @classmethod
    def from_files(cls, input_file: str, img_dir: str,
                   **kwargs) -> 'PoseFixResultsDataset':
        """The entries of ``input_file`` whose images are in ``img_dir``
        (their file names relative to it), without a pipeline unless
        ``kwargs`` gives one: the samples ``tools/refine.py`` refines.
        ``kwargs``: ``ann_file``, ``box_source``, ... as the constructor."""
        kwargs.setdefault('pipeline', [])
        return cls(
            input_file=input_file,
            data_root='',
            data_prefix=dict(img=img_dir),
            **kwargs)

    def _image_files(self) -> Optional[dict]:
        if not self.ann_file or osp.isdir(self.ann_file):
            return None
        from xtcocotools.coco import COCO
        coco = COCO(self.ann_file)
        return {i: img['file_name'] for i, img in coco.imgs.items()}

    def _skip(self, index: int, reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_entries.append((index, reason))

    def load_data_list(self) -> list:
        num_kpt = self.metainfo['num_keypoints']
        results = self.entries = load_coco_results(self.input_file,
                                                   num_kpt)
        files = self._image_files()
        data_list = []
        for i, entry in enumerate(results):
            if entry['category_id'] != PERSON_CATEGORY:
                self._skip(i, 'not a person (category_id != 1)')
                continue
            if entry['score'] <= 0:
                self._skip(i, 'score <= 0')
                continue
            if files is not None and entry['image_id'] not in files:
                self._skip(i, 'image_id not in the annotations')
                continue
            name = files[entry['image_id']] if files else \
                self.image_name.format(entry['image_id'])
            img_path = osp.join(self.data_prefix['img'], name)
            if not osp.isfile(img_path):
                self._skip(i, 'image file missing')
                if img_path not in self.missing_images[-1:]:
                    self.missing_images.append(img_path)
                continue
            try:
                data_list.append(self._data_info(i, entry, img_path))
            except UnusableEntry as e:
                self._skip(i, str(e))
        return data_list

    def _serialize_data(self):
        # MMEngine's serialisation cannot concatenate an empty list: a file
        # none of whose entries can be refined gives an empty dataset
        if not self.data_list:
            return np.zeros(0, np.uint8), np.zeros(0, np.int64)
        return super()._serialize_data()

    def _data_info(self, index, entry, img_path) -> dict:
        kpts, scores = split_keypoints(entry)
        return input_pose_sample(
            kpts,
            scores,
            entry['score'],
            bbox=entry.get('bbox'),
            box_source=self.box_source,
            absent_score_thr=self.absent_score_thr,
            box_extend=self.box_extend,
            min_box_size=self.min_box_size,
            id=index,
            img_id=entry['image_id'],
            img_path=img_path,
            sigmas=self.metainfo['sigmas'].copy())
