# PoseFix, demo, started from a network that knows human pose: BlazePose's
# landmark network (MediaPipe pose_landmark_full, Apache-2.0, from the
# mediapipe 0.10.21 wheel on PyPI; tools/convert_blazepose.py, run by
# `make setup`). Its encoder-decoder is the backbone (stride 4), its heatmap
# layer the head's final layer (the 17 COCO joints' landmarks); the 17
# input-pose channels join the stem at zero. Trained as the from-scratch
# demo (posefix_r18_coco-mini-lspet-128x96.py), with the input prior and the
# per-joint decision, on coco_mini train and lspet; coco_extra and the last
# 1,000 lspet persons are held out for choices (docs/benchmarks.md), never
# coco_mini val. Used by `make demo`.
_base_ = ['./_base_/default_runtime.py']

# runtime: by iterations, ~5.5 minutes on the 2-core CPU (AMD EPYC, AVX2:
# 2.1 s per iteration of batch 32), less than the from-scratch demo's 360
# iterations (1.1 s each, measured beside it: docs/benchmarks.md)
train_cfg = dict(by_epoch=False, max_iters=150, val_interval=150)
randomness = dict(seed=0)

# optimizer
# fine-tuning: 1e-4 (3e-4 lowered the held-out gains: docs/benchmarks.md)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4, weight_decay=1e-5))

# learning policy: the paper's shape (halve at regular steps), shortened
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=150, milestones=[100, 133],
         gamma=0.5, by_epoch=False)
]

# hooks
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=150,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)

# codec settings
codec = dict(
    type='PoseFixLabel', input_size=(192, 256), heatmap_size=(48, 64))

# model settings
# in the user's folder, whatever folder this runs from (posefix_mm://:
# $POSEFIX_MM_HOME, default ~/.cache/posefix_mm; `make setup`, or `mim run
# posefix_mm convert_blazepose` after a pip install, fills it)
blazepose_weights = 'posefix_mm://pretrained/blazepose_landmark_full.pth'
# BlazePose landmark of each COCO keypoint (nose, eyes, ears, shoulders,
# elbows, wrists, hips, knees, ankles)
blazepose_to_coco = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26,
                     27, 28)
# The default per-joint decision of this refiner: a logistic model over the
# cues of each joint (posefix_mm/models/heads/decision_cues.py), fitted on
# BlazePose's results on training images and on the "strong" synthetic
# family, its threshold chosen on held-out training images by the rule
# "best mean gain among the thresholds that lose on no held-out input"
# (`python benchmarks/held_out_decision.py CONFIG CHECKPOINT`, the table in
# docs/benchmarks.md). Fitted for the checkpoint this config trains (seed
# 0); calibrate it on your estimator with tools/decision_report.py --save.
decision_model = dict(
    cues=[
        'decision_logit',
        'log_p_input',
        'log_p_refined',
        'log_peak',
        'mass_input',
        'mass_refined',
        'move',
        'flip_move',
        'image_log_p_input',
        'image_log_p_refined',
        'image_mass_input',
        'pose_move',
        'pose_mass_input',
    ],
    coef=[
        0.1310, -0.2502, -0.0561, 0.3839, 0.1108, 0.0624, 0.0734, -0.1286,
        -0.2601, 0.0484, 0.0645, 0.1572, 0.6866],
    mean=[
        0.8639, -2.9518, -2.3679, -2.0769, 0.9917, 0.9954, 0.0213, 0.0030,
        -4.8057, -3.8979, 0.7445, 0.1313, 0.9266],
    std=[
        0.1230, 1.3220, 0.9176, 0.4965, 0.0635, 0.0419, 0.0823, 0.0269,
        2.9932, 2.1385, 0.3281, 0.2345, 0.0864],
    intercept=0.1344,
    joint_bias=[
        -0.3910, -0.4970, -0.0478, 0.6395, 0.1792, 0.0980, -0.0500, -0.1791,
        0.0351, -0.2074, 0.1068, -0.0749, 0.0381, 0.1090, 0.2515, -0.0956,
        0.2145],
    source='benchmarks/held_out_decision.py')
model = dict(
    type='PoseFixEstimator',
    input_pose_sigma=7.0,
    # BlazePose's input: RGB in [0, 1]
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True),
    backbone=dict(
        type='BlazePoseBackbone',
        in_channels=3 + 17,
        pretrained=blazepose_weights),
    head=dict(
        type='PoseFixHead',
        in_channels=48,
        out_channels=17,
        num_deconvs=0,
        skip_channels=None,
        pretrained_final_layer=dict(
            checkpoint=blazepose_weights, rows=blazepose_to_coco),
        input_prior_beta=1.0,
        decision=dict(type='JointDecision', loss_weight=1.0),
        loss_heatmap=dict(type='SoftmaxHeatmapCELoss'),
        loss_coord=dict(type='L1Loss', use_target_weight=True),
        decoder=codec),
    # the decision: decision_model over the cues, decision_thr chosen with
    # it on held-out training images (above)
    test_cfg=dict(
        flip_test=True,
        keypoint_score='input',
        decision_thr=0.65,
        decision_model=decision_model))

# base dataset settings
dataset_type = 'PoseFixCocoDataset'
data_mode = 'topdown'
data_root = '{{ fileDirname }}/../../shared/data/coco_mini/'
lspet_root = '{{ fileDirname }}/../../shared/data/lspet/'
# held out of training: the decision threshold is chosen on it
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
# the 139 coco_mini train persons drawn 8 times as often, next to 9,000
# lspet persons (coco_extra and the last 1,000 lspet persons: held out)
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
                data_root=lspet_root,
                data_mode=data_mode,
                ann_file='annotations/lspet_coco17.json',
                data_prefix=dict(img='images/'),
                indices=lspet_train_persons,
                pipeline=[]),
        ],
        sample_ratio_factor=[8.0, 1.0],
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
