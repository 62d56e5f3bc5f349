"""The output side of :class:`~.RefineInferencer`, as MMPose splits
``BaseMMPoseInferencer`` from its inferencers: the call options, the
pictures, the results as JSON types and the files."""
import logging
import os.path as osp
from typing import List

import numpy as np
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from mmpose.apis.inferencers.base_mmpose_inferencer import \
    BaseMMPoseInferencer
from mmpose.structures import PoseDataSample

from posefix_mm.utils import dump_json_atomic
from posefix_mm.visualization import draw_refinement
from .utils import instance_dicts


class BaseRefineInferencer(BaseMMPoseInferencer):
    """Options, pictures and results of a refining inferencer (its
    subclass makes ``self._buffer['img']`` and ``['pose2d']``, the image
    and the 2D model's data sample, in ``forward``)."""

    preprocess_kwargs: set = {
        'bbox_thr', 'nms_thr', 'bboxes', 'pose_based_nms'
    }
    forward_kwargs: set = {'merge_results', 'use_oks_tracking', 'tracking_thr'}
    visualize_kwargs: set = {
        'return_vis', 'show', 'wait_time', 'draw_bbox', 'radius',
        'thickness', 'kpt_thr', 'vis_out_dir', 'black_background',
        'skeleton_style', 'draw_heatmap'
    }
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

    def update_model_visualizer_settings(self,
                                         draw_heatmap: bool = False,
                                         skeleton_style: str = 'mmpose',
                                         **kwargs) -> None:
        """As MMPose's ``Pose2DInferencer``: the 2D model returns its
        heatmaps with ``draw_heatmap``; the visualizer draws
        ``skeleton_style`` (``'mmpose'`` or ``'openpose'``)."""
        if skeleton_style not in ('mmpose', 'openpose'):
            raise ValueError("skeleton_style must be 'mmpose' or 'openpose', "
                             f'got {skeleton_style!r}')
        self._draw_heatmap = draw_heatmap  # the 2D model's calls pass it
        self.visualizer.set_dataset_meta(self.model.dataset_meta,
                                         skeleton_style)

    def visualize(self,
                  inputs: list,
                  preds: List[PoseDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  draw_bbox: bool = False,
                  wait_time: float = 0,
                  radius: int = 3,
                  thickness: int = 1,
                  kpt_thr: float = 0.3,
                  vis_out_dir: str = '',
                  window_name: str = '',
                  black_background: bool = False,
                  skeleton_style: str = 'mmpose',
                  draw_heatmap: bool = False) -> List[np.ndarray]:
        """One picture per image: the refined poses of all its instances
        drawn by MMPose's ``PoseLocalVisualizer``
        (:func:`~posefix_mm.visualization.draw_refinement`: the joints the
        refiner placed, the kept ones scored at least ``kpt_thr``, an arrow
        from each 2D joint that moved, a legend); with ``draw_heatmap``,
        the 2D model's heatmaps below, as MMPose draws them."""
        if not (return_vis or show or vis_out_dir) or not preds:
            return []
        self.visualizer.radius = radius
        self.visualizer.line_width = thickness
        img = self._buffer['img'][..., ::-1]  # RGB
        if black_background:
            img = img * 0
        img_name = osp.basename(preds[0].metainfo['img_path'])
        picture = draw_refinement(
            self.visualizer,
            img,
            InstanceData.cat([p.pred_instances for p in preds]),
            kpt_thr=kpt_thr,
            draw_bbox=draw_bbox,
            skeleton_style=skeleton_style)
        pose2d = self._buffer['pose2d']
        if draw_heatmap and 'pred_fields' in pose2d:
            heatmap = self.visualizer._draw_instance_heatmap(
                pose2d.pred_fields, img)
            if heatmap is not None:
                picture = np.concatenate([picture, heatmap], 0)
        if show:
            self.visualizer.show(
                picture,
                win_name=window_name or img_name,
                wait_time=1e-5 if self._video_input else wait_time)
        if vis_out_dir:
            self.save_visualization(picture, vis_out_dir, img_name)
        return [picture] if return_vis else []

    def postprocess(self,
                    preds: List[PoseDataSample],
                    visualization: List[np.ndarray],
                    return_datasample=None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '') -> dict:
        """MMPose's results (``visualization``, ``predictions``: refined),
        with ``input_predictions`` (the 2D model's), every value a plain
        JSON type unless ``return_datasamples``."""
        if return_datasample is not None:  # MMPose's deprecated spelling
            return_datasamples = return_datasample
        pose2d = self._buffer['pose2d']
        if return_datasamples:
            result = dict(predictions=preds, input_predictions=[pose2d])
        else:
            result = dict(
                predictions=[instance_dicts(p.pred_instances) for p in preds],
                input_predictions=[instance_dicts(pose2d.pred_instances)])
        result['visualization'] = visualization
        if pred_out_dir:
            self._save_predictions(result, preds, pred_out_dir,
                                   return_datasamples)
        return result

    def _save_predictions(self, result, preds, pred_out_dir,
                          as_datasamples: bool) -> None:
        """The refined predictions, as MMPose saves its own (one JSON per
        image; a video's frames gathered in one JSON at the end)."""
        predictions = [instance_dicts(p.pred_instances) for p in preds
                       ] if as_datasamples else result['predictions']
        # the instances of the image (one sample each without
        # merge_results) in one file
        pred = [instance for p in predictions for instance in p]
        if self._video_input:
            self.video_info['predictions'].append(pred)
        elif preds:
            name = osp.splitext(osp.basename(
                preds[0].metainfo['img_path']))[0]
            dump_json_atomic(
                pred, osp.join(pred_out_dir, name + '.json'), indent=2)

    def _finalize_video_processing(self, pred_out_dir: str = ''):
        if self.video_info['writer'] is not None:
            self.video_info['writer'].release()
            print_log(
                f'the output video has been saved at '
                f'{self.video_info["output_file"]}',
                logger='current',
                level=logging.INFO)
        if pred_out_dir:
            name = osp.splitext(osp.basename(self.video_info['name']))[0]
            dump_json_atomic([
                dict(frame_id=i, instances=pred)
                for i, pred in enumerate(self.video_info['predictions'])
            ],
                             osp.join(pred_out_dir, name + '.json'),
                             indent=2)
