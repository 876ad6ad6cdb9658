"""Pose estimation: 2D keypoint backends, person counting and SMPL fitting."""
