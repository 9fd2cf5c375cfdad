"""One skeleton for every estimator: COCO's 17 keypoints. BlazePose's 33 landmarks are mapped onto
them where they coincide (the rest are kept under their own names)."""

from __future__ import annotations

COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
        "left_ankle", "right_ankle")

BLAZEPOSE = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
             "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky",
             "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index",
             "right_foot_index")

# BlazePose landmark index of each COCO keypoint.
BLAZEPOSE_TO_COCO = tuple(BLAZEPOSE.index(name) for name in COCO)

# Lines drawn between keypoints (COCO indices).
EDGES = ((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
         (11, 13), (13, 15), (12, 14), (14, 16))

# Left and right swapped: the mirror image of each COCO keypoint.
MIRROR = tuple(COCO.index(name.replace("left", "@").replace("right", "left").replace("@", "right")) for name in COCO)
