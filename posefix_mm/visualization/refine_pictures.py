"""Pictures that judge a refinement, drawn with MMPose's
``PoseLocalVisualizer``: refined poses with arrows from the input joints
that moved, and per-person crops, input | refined, with the ground truth
and the OKS change when there is one."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.structures import InstanceData

from posefix_mm.engine import input_results
from posefix_mm.evaluation.error_analysis import match, oks

MOVE_COLOR = (255, 0, 255)  # RGB magenta: where a joint came from
GT_COLOR = (255, 255, 255)  # RGB white: the ground truth


def _line(visualizer, start, end, color, width: int) -> None:
    # MMPose's OpenCV backend draws one line of integer points a call
    visualizer.draw_lines(
        np.array([start[0], end[0]]).round().astype(int),
        np.array([start[1], end[1]]).round().astype(int),
        colors=color,
        line_widths=width)


def _dot(visualizer, center, radius: float, color) -> None:
    visualizer.draw_circles(
        np.asarray(center), radius, edge_colors=color, face_colors=color)


def _moves(visualizer, inputs: np.ndarray, refined: np.ndarray,
           shown: np.ndarray, min_move: float, radius: float) -> None:
    """Arrows (a line and a dot at the input point) from the input to the
    refined point of each shown joint that moved."""
    moved = shown & (np.linalg.norm(refined - inputs, axis=-1) > min_move)
    for start, end in zip(inputs[moved], refined[moved]):
        _line(visualizer, start, end, MOVE_COLOR,
              max(1, visualizer.line_width))
        _dot(visualizer, start, radius, MOVE_COLOR)


def drawing_scores(instances: InstanceData) -> np.ndarray:
    """(N, K) what a picture gates with ``kpt_thr``: 1 for the joints the
    refiner placed (``keypoints_refined``, absent input joints included),
    the refined score (the input's) for the joints kept at their input
    point. The refiner's own confidence, a softmax peak of about 0.05-0.3,
    is no drawing threshold."""
    scores = np.asarray(instances.keypoint_scores, np.float32)
    if 'keypoints_refined' not in instances:
        return scores
    return np.where(np.asarray(instances.keypoints_refined, bool), 1.,
                    scores).astype(np.float32)


def legend(kpt_thr: float) -> str:
    """The one line that says what a refinement picture shows."""
    return (f'PoseFix: refined joints; magenta: moved from the input joint; '
            f'joints kept from the input where score >= {kpt_thr:g}')


def _legend(picture: np.ndarray, text: str) -> np.ndarray:
    """``text`` on a dark strip over the picture's top (its size kept)."""
    picture = picture.copy()
    scale = max(0.35, min(0.6, picture.shape[1] / 1400))
    (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX,
                                            scale, 1)
    strip = picture[:height + base + 8, :width + 8]
    strip[:] = (strip * 0.35).astype(picture.dtype)
    cv2.putText(picture, text, (4, height + 4), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (255, 255, 255), 1, cv2.LINE_AA)
    return picture


def draw_refinement(visualizer,
                    image: np.ndarray,
                    instances: InstanceData,
                    kpt_thr: float = 0.3,
                    draw_bbox: bool = False,
                    min_move: float = 1.0,
                    skeleton_style: str = 'mmpose',
                    show_legend: bool = True) -> np.ndarray:
    """The refined poses of ``instances`` on an RGB image, as MMPose draws
    predictions (``skeleton_style`` ``'mmpose'`` or ``'openpose'``), the
    joints gated by :func:`drawing_scores`; where a joint moved more than
    ``min_move`` pixels, an arrow from its input point
    (``input_keypoints``); and a one-line :func:`legend` on top.

    Returns:
        np.ndarray: the RGB picture.
    """
    drawn = instances.clone()
    # MMPose's visualizer gates joints by keypoints_visible (which MMPose's
    # models set to the scores)
    drawn.keypoint_scores = drawn.keypoints_visible = drawing_scores(
        instances)
    picture = visualizer._draw_instances_kpts(
        image.copy(), drawn, kpt_thr, skeleton_style=skeleton_style)
    if draw_bbox and 'bboxes' in instances:
        picture = visualizer._draw_instances_bbox(picture, instances)
    if 'input_keypoints' in instances:
        visualizer.set_image(picture)
        for inp, ref, score in zip(instances.input_keypoints,
                                   instances.keypoints, drawn.keypoint_scores):
            _moves(visualizer, np.asarray(inp), np.asarray(ref),
                   score > kpt_thr, min_move, max(2, visualizer.radius - 1))
        picture = visualizer.get_image()
        if show_legend:
            picture = _legend(picture, legend(kpt_thr))
    return picture


def _crop(image: np.ndarray, points: np.ndarray, height: int,
          padding: float = 1.25, min_size: float = 32.):
    """A crop of ``height`` pixels around ``points`` (padded, at least
    ``min_size`` image pixels, black beyond the image) and the map of image
    points into it."""
    lo, hi = points.min(0), points.max(0)
    center = (lo + hi) / 2
    size = np.maximum((hi - lo) * padding, min_size)
    scale = height / size[1]
    width = int(np.clip(round(size[0] * scale), height // 2, 2 * height))
    scale = min(scale, width / size[0])
    matrix = np.array([[scale, 0, width / 2 - scale * center[0]],
                       [0, scale, height / 2 - scale * center[1]]])
    crop = cv2.warpAffine(image, matrix, (width, height),
                          flags=cv2.INTER_LINEAR)

    def to_crop(pts):
        return np.asarray(pts, np.float64) * scale + matrix[:, 2]

    return crop, to_crop


def _ground_truth(visualizer, gt: np.ndarray, visible: np.ndarray,
                  skeleton: Sequence, width: int = 1) -> None:
    for a, b in skeleton:
        if visible[a] and visible[b]:
            _line(visualizer, gt[a], gt[b], GT_COLOR, width)
    for point in gt[visible]:
        _dot(visualizer, point, width + 1, GT_COLOR)


#: what the colours of a person's picture are
PANELS_LEGEND = ('white: ground truth | coloured: the pose (left the input, '
                 'right refined) | magenta: arrow from the input joint')


def _text_line(width: int, text: str, scale: float) -> np.ndarray:
    """A black strip of ``width`` pixels with ``text`` in white, at
    ``scale`` or smaller so that it fits."""
    # the strip's height by ``scale`` (strips of one scale are as high
    # whatever their text), the text shrunk to fit the width
    (_, height), base = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX,
                                        scale, 1)
    (full, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    scale = min(scale, (width - 8) / max(full, 1))
    strip = np.zeros((height + base + 8, width, 3), np.uint8)
    cv2.putText(strip, text, (4, height + 4), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def person_panels(visualizer,
                  image: np.ndarray,
                  input_keypoints: np.ndarray,
                  refined_keypoints: np.ndarray,
                  present: np.ndarray,
                  gt_keypoints: Optional[np.ndarray] = None,
                  gt_visible: Optional[np.ndarray] = None,
                  title: str = '',
                  height: int = 256) -> np.ndarray:
    """One person, input | refined, on a crop around them (small people
    are as large as any): the input pose on the left, the refined pose
    with arrows from the input joints that moved on the right, the ground
    truth (white) on both when given, a title line and a legend of the
    colours (:data:`PANELS_LEGEND`) on top. Lines, dots and arrows grow
    with ``height`` (the visualizer's ``radius`` and ``line_width``).

    Args:
        visualizer (PoseLocalVisualizer): with the dataset meta set.
        image (np.ndarray): RGB.
        input_keypoints, refined_keypoints (np.ndarray): (K, 2).
        present (np.ndarray): (K, ) bool, the input's present joints
            (absent ones are drawn only refined).
        gt_keypoints (np.ndarray, optional): (K, 2) the matched person.
        gt_visible (np.ndarray, optional): (K, ) bool.
        title (str): e.g. the image and the OKS before -> after.
        height (int): of the crops (tools/refine.py's --vis-size).

    Returns:
        np.ndarray: the RGB picture.
    """
    points = [refined_keypoints, input_keypoints[present]]
    if gt_keypoints is not None:
        points.append(gt_keypoints[gt_visible])
    crop, to_crop = _crop(image, np.concatenate(points), height)
    skeleton = visualizer.skeleton or []
    panels = []
    for name, kpts, shown in (('input', input_keypoints, present),
                              ('refined', refined_keypoints,
                               np.ones(len(present), bool))):
        visualizer.set_image(crop.copy())
        if gt_keypoints is not None:
            _ground_truth(visualizer, to_crop(gt_keypoints), gt_visible,
                          skeleton, max(1, visualizer.line_width // 2))
        instances = InstanceData(
            keypoints=to_crop(kpts)[None],
            keypoint_scores=shown[None].astype(np.float32))
        panel = visualizer._draw_instances_kpts(visualizer.get_image(),
                                                instances, kpt_thr=0.5)
        visualizer.set_image(panel)
        if name == 'refined':
            _moves(visualizer, to_crop(input_keypoints),
                   to_crop(refined_keypoints), present, 1.0,
                   max(2, visualizer.radius - 1))
        panel = visualizer.get_image()
        # the panel's name on a strip of its own: legible on any image
        label = _text_line(panel.shape[1], name,
                           float(np.clip(height / 600, 0.45, 0.8)))
        panels.append(np.concatenate([label, panel], 0))
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    body = np.concatenate([panels[0], gap, panels[1]], 1)
    scale = float(np.clip(body.shape[1] / 1500, 0.4, 0.7))
    lines = [_text_line(body.shape[1], title, scale),
             _text_line(body.shape[1], PANELS_LEGEND, scale * 0.85)]
    return np.concatenate(lines + [body], 0)


#: the default height of a person's crop in the pictures (pixels)
VIS_HEIGHT = 480


def _visualizer(dataset_meta, height: int = VIS_HEIGHT):
    """MMPose's visualizer, its joints and limbs as thick as a picture of
    ``height`` pixels needs to show them."""
    from mmpose.visualization import PoseLocalVisualizer
    visualizer = PoseLocalVisualizer(
        name=f'refine-pictures-{id(dataset_meta)}-{height}',
        radius=max(3, height // 80), line_width=max(2, height // 160))
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def write_pictures(outputs, vis_dir, dataset_meta, gt=None,
                   height: int = VIS_HEIGHT) -> int:
    """One picture per refined person (:func:`person_panels`): input |
    refined on a crop of ``height`` pixels around them. With ground truth
    (``gt``, COCO annotations), the matched person is drawn too, the title
    says the person's OKS before -> after, and the files are named so that
    sorting by name lists the largest changes first (``0000_loss0.214_...``,
    ``0001_gain0.180_...``; persons matched to nobody come last)."""
    pictures = {}
    for o in outputs:
        stem = osp.splitext(osp.basename(o.info['img_path']))[0]
        pictures[o.info['id']] = dict(
            output=o, key=0., name=f'{stem}_{o.info["id"]}', person=None,
            title=f'{stem}: input | refined')
    if gt is not None:
        sigmas = dataset_meta['sigmas']
        # input_results lists the outputs by id
        ids = sorted(pictures)
        matched = match(gt, input_results(outputs), sigmas)
        for index, image_id, person, before in matched['pairs']:
            picture = pictures[ids[index]]
            target = matched['persons'][image_id][person]
            after = oks(picture['output'].keypoints, target, sigmas)
            change = after - before
            kind = 'gain' if change > 0 else 'loss' if change < 0 else 'same'
            picture.update(
                key=-abs(change),
                name=f'{kind}{abs(change):.3f}_{picture["name"]}',
                person=target,
                title=f'{picture["title"].split(":")[0]}: OKS {before:.3f} '
                f'-> {after:.3f} ({change:+.3f})')
        for picture in pictures.values():
            if picture['person'] is None:
                picture.update(
                    key=1., name=f'unmatched_{picture["name"]}',
                    title=picture['title'] + ' (no ground truth matched)')
    visualizer = _visualizer(dataset_meta, height)
    os.makedirs(vis_dir, exist_ok=True)
    ordered = sorted(pictures.values(), key=lambda p: (p['key'], p['name']))
    for rank, picture in enumerate(ordered):
        o, person = picture['output'], picture['person']
        image = cv2.imread(o.info['img_path'])[..., ::-1]
        drawn = person_panels(
            visualizer, image, o.info['input_keypoints'][0], o.keypoints,
            o.info['input_keypoints_visible'][0] > 0,
            None if person is None else person['keypoints'],
            None if person is None else person['visible'], picture['title'],
            height)
        cv2.imwrite(
            osp.join(vis_dir, f'{rank:04d}_{picture["name"]}.jpg'),
            drawn[..., ::-1])
    return len(ordered)
