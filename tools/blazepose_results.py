"""COCO keypoint results of MediaPipe BlazePose "full" on the ground-truth
person boxes of a COCO-format annotation file: a real estimator's results
on *training* images, to fit error tables to (tools/fit_error_tables.py).

Runs in its own environment (MediaPipe 0.10.21 bundles the BlazePose model
files and needs numpy 1): `make blazepose-venv` creates `.venv-blazepose`.
It does not import posefix_mm.

Usage:
    .venv-blazepose/bin/python tools/blazepose_results.py --ann GT.json
        --img-dir IMAGES/ --out results.json [--limit N | --persons START:END]

Each non-crowd person with keypoints is cropped with its box padded by
--padding (1.25), BlazePose runs on the crop (static images), and its 33
landmarks are mapped to the 17 COCO keypoints (score: the landmark's
visibility; instance score: their mean). A person BlazePose finds nobody in
gets no entry (counted).
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile

# BlazePose landmark of each COCO keypoint (nose, eyes, ears, shoulders,
# elbows, wrists, hips, knees, ankles)
BLAZEPOSE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26,
                     27, 28)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0].replace('\n', ' '))
    parser.add_argument('--ann', required=True, help='COCO annotations')
    parser.add_argument('--img-dir', required=True, help='their images')
    parser.add_argument('--out', required=True, help='results JSON')
    parser.add_argument('--padding', type=float, default=1.25,
                        help='crop = box x this (default 1.25)')
    persons = parser.add_mutually_exclusive_group()
    persons.add_argument('--limit', type=int,
                         help='only the first N persons (in file order)')
    persons.add_argument(
        '--persons',
        help='START:END, a slice of the persons (in file order), e.g. the '
        'lspet persons a config holds out of training')
    return parser.parse_args(argv)


def crop_box(bbox, padding, width, height):
    """Integer crop (x0, y0, x1, y1) of a COCO [x, y, w, h] box padded
    about its centre, inside the image."""
    x, y, w, h = bbox
    cx, cy = x + w / 2, y + h / 2
    half = max(w, h) * padding / 2
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1 = min(width, int(round(cx + half)))
    y1 = min(height, int(round(cy + half)))
    return x0, y0, x1, y1


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import mediapipe as mp
    with open(args.ann) as f:
        gt = json.load(f)
    files = {img['id']: img['file_name'] for img in gt['images']}
    persons = [
        a for a in gt['annotations']
        if not a.get('iscrowd', 0) and a.get('num_keypoints', 0) > 0
    ]
    if args.persons:
        start, end = (int(v) for v in args.persons.split(':'))
        persons = persons[start:end]
    persons = persons[:args.limit]
    results, missed, cache = [], 0, {}
    with mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1) as pose:
        for i, ann in enumerate(persons):
            path = osp.join(args.img_dir, files[ann['image_id']])
            if path not in cache:
                cache.clear()
                cache[path] = cv2.imread(path)
            img = cache[path]
            if img is None:
                raise SystemExit(f'error: cannot read {path}')
            x0, y0, x1, y1 = crop_box(ann['bbox'], args.padding,
                                      img.shape[1], img.shape[0])
            if x1 - x0 < 2 or y1 - y0 < 2:
                missed += 1
                continue
            crop = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
            found = pose.process(crop).pose_landmarks
            if found is None:
                missed += 1
                continue
            keypoints, scores = [], []
            for j in BLAZEPOSE_TO_COCO:
                lm = found.landmark[j]
                scores.append(float(lm.visibility))
                keypoints += [x0 + lm.x * (x1 - x0), y0 + lm.y * (y1 - y0),
                              scores[-1]]
            results.append(
                dict(image_id=ann['image_id'], category_id=1,
                     keypoints=keypoints,
                     score=sum(scores) / len(scores)))
            if (i + 1) % 200 == 0:
                print(f'{i + 1} / {len(persons)} persons', flush=True)
    folder = osp.dirname(osp.abspath(args.out))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.json')
    with os.fdopen(fd, 'w') as f:
        json.dump(results, f)
    os.replace(tmp, args.out)
    print(f'{len(results)} results of {len(persons)} persons ({missed} '
          f'without a pose) -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
