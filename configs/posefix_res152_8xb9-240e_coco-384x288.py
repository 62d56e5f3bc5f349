# PoseFix, the paper's main model (Moon et al., CVPR 2019, section 6):
# ResNet-152, 384x288, COCO 2017 train, Adam 5e-4 halved every 60 epochs for
# 240 epochs, batch 72 in total (8 GPUs x 9), scale +-30%, rotation +-45
# degrees, flip, ImageNet start. Validation refines a real estimator's val
# results (put them at data/coco/results/keypoints_val2017_results.json or
# set val_dataloader.dataset.input_file); docs/training_on_coco.md.
# The official code's recipe instead: 140 epochs, lr /10 at 90 and 120:
#   train_cfg = dict(max_epochs=140, val_interval=10)
#   param_scheduler = [dict(type='MultiStepLR', begin=0, end=140,
#                           milestones=[90, 120], gamma=0.1, by_epoch=True)]
# and RandomBBoxTransform(rotate_factor=80., rotate_prob=0.6).
_base_ = ['./_base_/default_runtime.py']

# runtime
train_cfg = dict(max_epochs=240, val_interval=10)

# optimizer
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4, weight_decay=1e-5))

# learning policy: halve every 60 epochs
param_scheduler = [
    dict(type='StepLR', begin=0, end=240, step_size=60, gamma=0.5,
         by_epoch=True)
]

# the learning rate above is for a total batch of 72
auto_scale_lr = dict(base_batch_size=72)

# hooks
default_hooks = dict(
    checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=3))

# codec settings
codec = dict(type='PoseFixLabel', input_size=(288, 384), heatmap_size=(72, 96))

# model settings
model = dict(
    type='PoseFixEstimator',
    input_pose_sigma=9.0,
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # ImageNet start, as the paper: torchvision's ResNet-152 fills the
    # first 3 stem channels, the 17 input-pose channels start at zero.
    # Fetched once into torch's hub cache; offline, pass the file:
    #   --cfg-options model.pretrained_backbone=/path/to/resnet152.pth
    # (model.pretrained_backbone=None trains from scratch)
    pretrained_backbone='torchvision://resnet152',
    backbone=dict(
        type='ResNet', depth=152, in_channels=3 + 17,
        out_indices=(0, 1, 2, 3)),
    head=dict(
        type='PoseFixHead',
        in_channels=2048,
        out_channels=17,
        skip_channels=(1024, 512, 256),  # None: the official code's head
        deconv_channels=256,
        loss_heatmap=dict(type='SoftmaxHeatmapCELoss'),
        loss_coord=dict(type='L1Loss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, keypoint_score='input'))

# base dataset settings
dataset_type = 'PoseFixCocoDataset'
data_mode = 'topdown'
data_root = 'data/coco/'

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
# validation as the paper reports: refine a real estimator's COCO val
# results (any method's keypoint results file, e.g. from MMPose's
# `tools/test.py ... --dump` converted by `CocoMetric(outfile_prefix=...)`,
# or the official PoseFix input files); the input pose is the file's
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffineWithInputPose', input_size=codec['input_size']),
    dict(type='PackPoseFixInputs')
]

# data loaders
train_dataloader = dict(
    batch_size=9,
    num_workers=4,
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
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='PoseFixResultsDataset',
        data_root=data_root,
        input_file=data_root + 'results/keypoints_val2017_results.json',
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=val_pipeline,
    ))
test_dataloader = val_dataloader

# evaluators: the refined poses (coco/AP, which picks the best checkpoint)
# and the estimator's input poses (coco-input/AP), side by side
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/person_keypoints_val2017.json'),
    dict(
        type='InputPoseCocoMetric',
        ann_file=data_root + 'annotations/person_keypoints_val2017.json'),
]
test_evaluator = val_evaluator
