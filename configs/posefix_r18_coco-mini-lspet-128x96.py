# PoseFix, demo: the small model (ResNet-18 from scratch, 128x96) trained on
# coco_mini train, coco_extra and the lspet sports persons, about 10 minutes on
# a 2-core CPU, with the do-no-harm options on: the input prior (the head
# starts as the identity on the input pose and learns corrections) and the
# learned per-joint decision (a refined joint replaces its input joint only
# where the refiner predicts it is nearer the truth). Absent input joints are
# synthesized too (absent_rate), so the refiner learns to place them from the
# image. The last 1,000 lspet persons are held out of training: the decision
# threshold was chosen on them (docs/benchmarks.md), never on coco_mini val.
# The from-scratch side of the pose-pretrained start's ablation
# (docs/benchmarks.md); `make demo` uses
# posefix_blazepose_coco-mini-lspet-256x192.py.
_base_ = ['./_base_/default_runtime.py']

# runtime: by iterations, ~11 minutes on the 2-core CPU (AMD EPYC, AVX2:
# 1.9 s per iteration of batch 32)
train_cfg = dict(by_epoch=False, max_iters=360, val_interval=360)
randomness = dict(seed=0)

# optimizer
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))

# learning policy: the paper's shape (halve at regular steps), shortened
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=360, milestones=[240, 320],
         gamma=0.5, by_epoch=False)
]

# hooks
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=360,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)

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
        input_prior_beta=1.0,
        decision=dict(type='JointDecision', loss_weight=1.0),
        loss_heatmap=dict(type='SoftmaxHeatmapCELoss'),
        loss_coord=dict(type='L1Loss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, keypoint_score='input', decision_thr=0.7))

# base dataset settings
dataset_type = 'PoseFixCocoDataset'
data_mode = 'topdown'
data_root = '{{ fileDirname }}/../../shared/data/coco_mini/'
lspet_root = '{{ fileDirname }}/../../shared/data/lspet/'
extra_root = '{{ fileDirname }}/../../shared/data/coco_extra/'
lspet_train_persons = 9000  # the rest (1,000) is held out for choices

# pipelines
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='SynthesizePoseErrors', absent_rate=0.3),
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
# the 196 COCO persons (coco_mini train, coco_extra) drawn 8 times as often,
# next to 9,000 lspet persons
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                data_mode=data_mode,
                ann_file='annotations/person_keypoints_train2017.json',
                data_prefix=dict(img='train2017/'),
                pipeline=[]),
            dict(
                type=dataset_type,
                data_root=extra_root,
                data_mode=data_mode,
                ann_file='annotations/person_keypoints_train2017.json',
                data_prefix=dict(img='train2017/'),
                pipeline=[]),
            dict(
                type=dataset_type,
                data_root=lspet_root,
                data_mode=data_mode,
                ann_file='annotations/lspet_coco17.json',
                data_prefix=dict(img='images/'),
                indices=lspet_train_persons,
                pipeline=[]),
        ],
        sample_ratio_factor=[8.0, 8.0, 1.0],
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
