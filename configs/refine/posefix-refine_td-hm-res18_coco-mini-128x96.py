# A pose model refined by PoseFix, evaluated in one run: the data, pipeline
# and loaders are the pose model's (its config is the base); the model is
# replaced by PoseRefiner(pose model -> PoseFix). Point it at checkpoints:
#   python tools/test.py \
#     configs/refine/posefix-refine_td-hm-res18_coco-mini-128x96.py \
#     --cfg-options model.pose_checkpoint=BASE.pth \
#                   model.refiner_checkpoint=POSEFIX.pth
# Any MMPose model works the same way: another base config, top-down with
# its boxes or bottom-up on the whole image, and its test pipeline with
# KeepFullImage after LoadImage and 'full_img' in PackPoseInputs' meta_keys.
_base_ = ['../baselines/td-hm_res18_coco-mini-128x96.py']

# model settings: the composed model replaces the base model
model = dict(
    _delete_=True,
    type='PoseRefiner',
    pose_model='{{ fileDirname }}/../baselines/'
    'td-hm_res18_coco-mini-128x96.py',
    pose_checkpoint=None,
    refiner='{{ fileDirname }}/../posefix_r18_coco-mini-128x96.py',
    refiner_checkpoint=None)

# the base pipeline, keeping the loaded image for PoseFix's own crops
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='KeepFullImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(96, 128)),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
                   'ori_shape', 'img_shape', 'input_size', 'input_center',
                   'input_scale', 'flip', 'flip_direction', 'flip_indices',
                   'raw_ann_info', 'dataset_name', 'full_img'))
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# evaluators: the refined poses and the pose model's, side by side, with
# the keypoint error taxonomy of both
data_root = '{{ fileDirname }}/../../../shared/data/coco_mini/'
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/person_keypoints_val2017.json'),
    dict(
        type='InputPoseCocoMetric',
        ann_file=data_root + 'annotations/person_keypoints_val2017.json'),
    dict(
        type='PoseErrorMetric',
        ann_file=data_root + 'annotations/person_keypoints_val2017.json'),
]
test_evaluator = val_evaluator
