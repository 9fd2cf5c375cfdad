"""Poses: keypoint estimators (MoveNet, BlazePose, YOLO-pose, MediaPipe Tasks), one skeleton naming,
pose features for classifiers, and the classifiers themselves."""
