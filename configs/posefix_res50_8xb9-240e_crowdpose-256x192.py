# PoseFix on CrowdPose (14 joints): the ResNet-50 recipe with CrowdPose's
# skeleton. No error statistics exist for CrowdPose: SynthesizePoseErrors
# derives tables from COCO's (upper / lower body means, a warning says so);
# fit real ones to an estimator with tools/fit_error_tables.py and set
# train_pipeline's error_tables. Validation refines synthetic inputs of the
# test persons (fixed seed): there is no standard estimator results file
# for CrowdPose; with one, use PoseFixResultsDataset as the COCO configs do.
_base_ = ['./posefix_res50_8xb9-240e_coco-256x192.py']

num_keypoints = 14
metainfo = dict(from_file='configs/_base_/datasets/crowdpose.py')

default_hooks = dict(
    checkpoint=dict(save_best='crowdpose/AP', rule='greater'))

model = dict(
    backbone=dict(in_channels=3 + num_keypoints),
    head=dict(out_channels=num_keypoints))

data_root = 'data/crowdpose/'

# the base's training pipeline (error synthesis and augmentation); for
# validation, synthetic inputs of the test persons
train_pipeline = {{_base_.train_pipeline}}
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='SynthesizePoseErrors', seed=0),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffineWithInputPose', input_size=(192, 256)),
    dict(type='PackPoseFixInputs')
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PoseFixCocoDataset',
        metainfo=metainfo,
        data_root=data_root,
        data_mode='topdown',
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PoseFixCocoDataset',
        metainfo=metainfo,
        data_root=data_root,
        data_mode='topdown',
        ann_file='annotations/mmpose_crowdpose_test.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
        use_area=False,
        iou_type='keypoints_crowd',
        prefix='crowdpose'),
    dict(
        type='InputPoseCocoMetric',
        ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
        use_area=False,
        iou_type='keypoints_crowd',
        prefix='crowdpose-input'),
]
test_evaluator = val_evaluator
