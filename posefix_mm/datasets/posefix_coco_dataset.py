"""COCO-style dataset for PoseFix training: each top-down sample also carries
the other persons of its image, which error synthesis needs for swaps."""
import logging
from collections import Counter, defaultdict
from typing import List, Optional

import numpy as np
from mmengine.logging import print_log
from mmpose.datasets.datasets.body import CocoDataset
from mmpose.registry import DATASETS

from posefix_mm.utils.error_taxonomy import MIN_MATCH_OKS
from posefix_mm.utils.keypoint_similarity import object_keypoint_similarity
from .coco_results import load_coco_results
from .metainfo import mmpose_dataset_info
#: reasons to leave an annotation out that point at a faulty file
PROBLEMS = ('with a zero-area or negative box',
            'whose num_keypoints contradicts its keypoints')


def _drop_reason(info: dict) -> Optional[str]:
    """Why MMPose's top-down filter (``_is_valid_instance``) leaves an
    annotation out, or None when it keeps it."""
    labelled = int((info['keypoints_visible'] > 0).sum())
    num_keypoints = info['num_keypoints']
    x1, y1, x2, y2 = info['bbox'][0]
    if info.get('iscrowd'):
        return 'crowd'
    if num_keypoints == 0 or np.max(info['keypoints']) <= 0:
        if (num_keypoints == 0) != (labelled == 0):
            return PROBLEMS[1]
        return 'without keypoints'
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return PROBLEMS[0]
    return None


@DATASETS.register_module()
class PoseFixCocoDataset(CocoDataset):
    """MMPose's ``CocoDataset`` (top-down) plus, per sample:

    - ``other_keypoints`` (M, K, 2), ``other_keypoints_visible`` (M, K),
      ``other_bboxes`` (M, 4) xyxy: every other non-crowd annotated person of
      the same image (M >= 0; persons without keypoints count for crowding);
    - ``sigmas`` (K, ) from the metainfo (MMPose already adds
      ``flip_indices``, ``upper_body_ids`` and ``lower_body_ids``);
    - with ``predictions_file``: ``pred_keypoints`` (1, K, 2) and
      ``pred_keypoints_visible`` (1, K), the prediction of an estimator on
      this training person (the best-OKS result of the same image, if its
      OKS >= 0.1), which ``SynthesizePoseErrors(unlabeled='prediction')``
      uses for joints without ground truth, as the official code does.

    Args:
        predictions_file (str, optional): COCO keypoint results (a list of
            ``image_id, category_id, keypoints, score``) on this split.
        **kwargs: arguments of ``CocoDataset``.
    """

    METAINFO = mmpose_dataset_info('coco.py')

    def __init__(self, *args, predictions_file: Optional[str] = None,
                 **kwargs):
        self.predictions_file = predictions_file
        super().__init__(*args, **kwargs)

    def _load_annotations(self):
        try:
            return super()._load_annotations()
        except ValueError as e:  # not JSON, truncated, not UTF-8
            raise ValueError(f'{self.ann_file}: not a COCO annotation JSON '
                             f'file ({e})') from e

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """MMPose's parsing, after checking the keypoint list: a wrong
        length or a non-number refuses the file, naming the annotation."""
        ann = raw_data_info['raw_ann_info']
        if 'keypoints' in ann:
            kpts = ann['keypoints']
            expected = 3 * self.metainfo['num_keypoints']
            if not isinstance(kpts, list) or len(kpts) != expected or any(
                    isinstance(v, bool) or not isinstance(v, (int, float))
                    for v in kpts):
                raise ValueError(
                    f'{self.ann_file}: annotation id {ann.get("id")}: '
                    f'"keypoints" must be {expected} numbers, got '
                    f'{str(kpts)[:60]}')
        return super().parse_data_info(raw_data_info)

    def _get_topdown_data_infos(self, instance_list: List[dict]) -> List[dict]:
        self._log_dropped(instance_list)
        by_image = defaultdict(list)
        for instance in instance_list:
            if not instance.get('iscrowd', 0):
                by_image[instance['img_id']].append(instance)
        predictions = self._load_predictions()
        data_list = super()._get_topdown_data_infos(instance_list)
        for data_info in data_list:
            others = [
                o for o in by_image[data_info['img_id']]
                if o['id'] != data_info['id']
            ]
            self._add_others(data_info, others)
            if predictions is not None:
                self._add_prediction(data_info,
                                     predictions.get(data_info['img_id'], []))
        return data_list

    def _add_others(self, data_info: dict, others: List[dict]) -> None:
        num_kpt = data_info['keypoints'].shape[1]
        data_info['other_keypoints'] = np.array(
            [o['keypoints'][0] for o in others],
            dtype=np.float32).reshape(-1, num_kpt, 2)
        data_info['other_keypoints_visible'] = np.array(
            [o['keypoints_visible'][0] for o in others],
            dtype=np.float32).reshape(-1, num_kpt)
        data_info['other_bboxes'] = np.array(
            [o['bbox'][0] for o in others], dtype=np.float32).reshape(-1, 4)

    def _load_predictions(self) -> Optional[dict]:
        """The predictions file's poses by image id, (K, 3) each; the file
        is checked as ``tools/refine.py`` checks its input
        (:func:`~posefix_mm.datasets.coco_results.load_coco_results`)."""
        if self.predictions_file is None:
            return None
        results = load_coco_results(self.predictions_file,
                                    self.metainfo['num_keypoints'])
        by_image = defaultdict(list)
        for result in results:
            by_image[result['image_id']].append(
                np.asarray(result['keypoints'], np.float64).reshape(-1, 3))
        return by_image

    def _add_prediction(self, data_info: dict, candidates: list) -> None:
        visible = data_info['keypoints_visible'][0] > 0
        if not candidates or not visible.any():
            return
        preds = np.stack(candidates)
        if preds.shape[1] != len(visible):
            raise ValueError(
                f'{self.predictions_file}: {preds.shape[1]} keypoints per '
                f'result, the dataset has {len(visible)}')
        oks = object_keypoint_similarity(preds[:, :, :2],
                                         data_info['keypoints'][0], visible,
                                         max(float(data_info['area']), 1.),
                                         self.metainfo['sigmas'])
        best = int(oks.argmax())
        if oks[best] >= MIN_MATCH_OKS:
            data_info['pred_keypoints'] = preds[best:best + 1, :, :2].astype(
                np.float32)
            data_info['pred_keypoints_visible'] = (
                preds[best:best + 1, :, 2] > 0).astype(np.float32)

    def _log_dropped(self, instance_list: List[dict]) -> None:
        """Say, once per dataset, how many annotations MMPose's filter
        leaves out of training (or of the evaluation) and why."""
        reasons = Counter(
            r for r in map(_drop_reason, instance_list) if r is not None)
        kept = len(instance_list) - sum(reasons.values())
        detail = ', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))
        use = 'evaluated' if self.test_mode else 'trained on'
        print_log(
            f'{self.ann_file}: {kept} of {len(instance_list)} annotations '
            f'are persons {use}' + (f'; left out: {detail}'
                                    if detail else ''),
            logger='current',
            level=logging.WARNING if any(
                r in PROBLEMS for r in reasons) else logging.INFO)

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        data_info['sigmas'] = self.metainfo['sigmas'].copy()
        return data_info
