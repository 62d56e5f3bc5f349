# Renamed to MMPose's naming scheme: posefix_res50_8xb9-240e_coco-256x192.py
_base_ = ['./posefix_res50_8xb9-240e_coco-256x192.py']
