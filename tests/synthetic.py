"""Small COCO keypoint data built in a test's folder (as
``mmpose.testing.get_coco_sample`` builds samples in memory): images,
annotations and results files, for the fast tier."""
import json
import os
import os.path as osp

import cv2
import numpy as np

#: the limbs drawn on the pictures (shoulders, arms, hips, legs, trunk)
LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14),
         (14, 16), (5, 6), (11, 12), (5, 11), (6, 12))

#: COCO's 17 joints of a standing person in a 100 x 200 box, from the top
#: left: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles
STANDING = np.array([[50, 20], [45, 15], [55, 15], [40, 18], [60, 18],
                     [30, 50], [70, 50], [25, 85], [75, 85], [22, 115],
                     [78, 115], [38, 115], [62, 115], [38, 155], [62, 155],
                     [38, 195], [62, 195]], np.float32)


def person(x: float, y: float, scale: float = 1.0) -> np.ndarray:
    """The standing person's joints (17, 2), the box's corner at (x, y)."""
    return STANDING * scale + np.array([x, y], np.float32)


def draw_person(img: np.ndarray, kpts: np.ndarray) -> None:
    """The person's limbs as light lines on ``img`` (in place)."""
    for a, b in LIMBS:
        cv2.line(img, tuple(int(v) for v in kpts[a]),
                 tuple(int(v) for v in kpts[b]), (220, 220, 220), 3)


def coco_meta() -> dict:
    """COCO's keypoint metainfo (sigmas, flip indices, colours), from
    MMPose's packaged file."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from posefix_mm.datasets.metainfo import mmpose_dataset_info
    return parse_pose_metainfo(mmpose_dataset_info('coco.py'))


def coco_dataset(data: dict):
    """``PoseFixCocoDataset`` (no pipeline) on what :func:`write_coco`
    wrote."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    return DATASETS.build(
        dict(
            type='PoseFixCocoDataset',
            data_root='',
            ann_file=data['ann'],
            data_prefix=dict(img=data['img_dir'] + '/'),
            pipeline=[]))


def write_coco(folder, persons_per_image=((20, 20), (150, 10)),
               num_images: int = 3, size=(320, 240), seed: int = 0) -> dict:
    """JPEG images of noise with each person drawn as a skeleton, and their
    COCO keypoint annotations (every joint labelled).

    Returns:
        dict: ``ann`` (the annotations' path), ``img_dir``, ``coco`` (the
        annotations), ``keypoints`` {annotation id: (17, 2)}.
    """
    rng = np.random.default_rng(seed)
    img_dir = osp.join(str(folder), 'images')
    os.makedirs(img_dir, exist_ok=True)
    width, height = size
    images, annotations, keypoints = [], [], {}
    for image_id in range(1, num_images + 1):
        img = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        for x, y in persons_per_image:
            kpts = person(x, y, 0.9 + 0.1 * image_id / num_images)
            draw_person(img, kpts)
            lo, hi = kpts.min(0) - 5, kpts.max(0) + 5
            ann_id = len(annotations) + 1
            keypoints[ann_id] = kpts
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=1,
                    iscrowd=0,
                    num_keypoints=17,
                    area=float(np.prod(hi - lo)),
                    bbox=[float(lo[0]), float(lo[1]),
                          float(hi[0] - lo[0]), float(hi[1] - lo[1])],
                    keypoints=np.concatenate(
                        [kpts, np.full((17, 1), 2.)], 1).ravel().tolist()))
        name = f'{image_id:012d}.jpg'
        cv2.imwrite(osp.join(img_dir, name), img)
        images.append(
            dict(id=image_id, file_name=name, width=width, height=height))
    coco = dict(
        images=images,
        annotations=annotations,
        categories=[
            dict(
                id=1,
                name='person',
                keypoints=[str(i) for i in range(17)],
                skeleton=[])
        ])
    ann = osp.join(str(folder), 'annotations.json')
    with open(ann, 'w') as f:
        json.dump(coco, f)
    return dict(ann=ann, img_dir=img_dir, coco=coco, keypoints=keypoints)


def results_of(data: dict, noise: float = 0.0, seed: int = 0,
               absent=()) -> list:
    """COCO results entries: each annotated person's joints, moved by
    Gaussian noise of ``noise`` pixels, scored 0.9; the joints in
    ``absent`` written (0, 0, 0) as estimators write a missed joint."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in data['coco']['annotations']:
        kpts = data['keypoints'][ann['id']] + rng.normal(
            0, noise, (17, 2)).astype(np.float32) * (noise > 0)
        scores = np.full(17, 0.9)
        kpts[list(absent)] = 0
        scores[list(absent)] = 0
        results.append(
            dict(
                image_id=ann['image_id'],
                category_id=1,
                keypoints=np.concatenate([kpts, scores[:, None]],
                                         1).ravel().tolist(),
                score=0.95))
    return results


def write_results(path, results: list) -> str:
    with open(path, 'w') as f:
        json.dump(results, f)
    return str(path)
