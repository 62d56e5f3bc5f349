# Renamed to MMPose's naming scheme: posefix_res152_8xb9-240e_coco-384x288.py
# (kept so that `mim train posefix_mm configs/posefix_r152.py` still works).
_base_ = ['./posefix_res152_8xb9-240e_coco-384x288.py']
