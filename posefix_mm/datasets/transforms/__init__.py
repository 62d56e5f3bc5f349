from .error_tables import (COCO_ERROR_TABLES, derive_error_tables,
                           joint_type_probabilities, load_error_tables,
                           validate_error_tables)
from .input_pose_transforms import (KeepFullImage, PackPoseFixInputs,
                                    RandomFlipWithInputPose,
                                    TopdownAffineWithInputPose)
from .synthesize_errors import SynthesizePoseErrors

__all__ = [
    'COCO_ERROR_TABLES', 'derive_error_tables', 'joint_type_probabilities',
    'load_error_tables', 'validate_error_tables', 'KeepFullImage',
    'PackPoseFixInputs', 'RandomFlipWithInputPose',
    'TopdownAffineWithInputPose', 'SynthesizePoseErrors'
]
