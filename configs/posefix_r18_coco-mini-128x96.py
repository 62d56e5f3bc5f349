# PoseFix, small: ResNet-18 from scratch at 128x96 on coco_mini, trainable on
# CPU in minutes. Used by `make demo` and the CI smoke tests.
_base_ = ['./_base_/default_runtime.py']

# runtime
train_cfg = dict(max_epochs=60, val_interval=20)
randomness = dict(seed=0)

# optimizer
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))

# learning policy: the paper's shape (halve at regular steps), shortened
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='StepLR', begin=0, end=60, step_size=20, gamma=0.5,
         by_epoch=True)
]

# hooks
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=1))

# codec settings
codec = dict(type='PoseFixLabel', input_size=(96, 128), heatmap_size=(24, 32))

# model settings
model = dict(
    type='PoseFixEstimator',
    input_pose_sigma=3.5,  # 7 at 256x192, scaled with the input
    # from scratch: no ImageNet weights can be had offline here (the paper
    # configs start from torchvision://resnet152)
    pretrained_backbone=None,
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet', depth=18, in_channels=3 + 17,
        out_indices=(0, 1, 2, 3)),
    head=dict(
        type='PoseFixHead',
        in_channels=512,
        out_channels=17,
        skip_channels=(256, 128, 64),
        deconv_channels=128,
        loss_heatmap=dict(type='SoftmaxHeatmapCELoss'),
        loss_coord=dict(type='L1Loss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, keypoint_score='input'))

# base dataset settings
dataset_type = 'PoseFixCocoDataset'
data_mode = 'topdown'
data_root = '{{ fileDirname }}/../../shared/data/coco_mini/'

# pipelines
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='SynthesizePoseErrors'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlipWithInputPose', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0.,
        scale_factor=(0.7, 1.3),
        rotate_factor=45.,
        rotate_prob=0.6),
    dict(type='TopdownAffineWithInputPose', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseFixInputs')
]
# evaluation on synthetic inputs: a fixed input pose per val person
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='SynthesizePoseErrors', seed=0),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffineWithInputPose', input_size=codec['input_size']),
    dict(type='PackPoseFixInputs')
]

# data loaders
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline,
    ))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline,
    ))
test_dataloader = val_dataloader

# evaluators: the refined pose and its input, side by side, with the
# keypoint error taxonomy of both
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
