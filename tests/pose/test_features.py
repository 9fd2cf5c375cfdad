"""The pose feature vector: where the person stands, how large they appear, and which way they
face do not change it; missing keypoints are explicit."""

from __future__ import annotations

import numpy as np

from edgetm.pose.base import PoseFeatureOptions
from edgetm.pose.features import ANGLES, feature_length, pose_features
from edgetm.pose.skeleton import COCO, MIRROR
from tests.pose.posekit import ARMS_UP, STANDING

ALL = np.ones(len(COCO), bool)
OPTIONS = PoseFeatureOptions()


def test_the_vector_has_a_fixed_documented_layout():
    vector = pose_features(STANDING, ALL, OPTIONS)
    assert vector.shape == (feature_length(OPTIONS),) == (59,) and vector.dtype == np.float32
    assert feature_length(PoseFeatureOptions(angles=False)) == 51
    xy = vector[:34].reshape(17, 2)
    hips = [COCO.index("left_hip"), COCO.index("right_hip")]
    shoulders = [COCO.index("left_shoulder"), COCO.index("right_shoulder")]
    assert np.allclose(xy[hips].mean(axis=0), 0)  # centred on the hips
    assert np.isclose(np.linalg.norm(xy[shoulders].mean(axis=0)), 1)  # a torso is one unit long
    assert (vector[34:51] == 1).all()  # every keypoint seen
    elbow = ANGLES.index((COCO.index("left_shoulder"), COCO.index("left_elbow"), COCO.index("left_wrist")))
    assert 0.9 < vector[51 + elbow] <= 1.0  # a hanging arm is nearly straight


def test_invariant_to_translation_and_scale():
    reference = pose_features(STANDING, ALL, OPTIONS)
    for scale, shift in ((1.0, (300, -40)), (0.25, (0, 0)), (3.7, (-1000, 2000))):
        moved = STANDING * scale + np.array(shift, np.float32)
        assert np.allclose(pose_features(moved, ALL, OPTIONS), reference, atol=1e-5)
    assert not np.allclose(pose_features(ARMS_UP, ALL, OPTIONS), reference, atol=0.1)  # but the pose matters


def flip(points: np.ndarray, width: int = 640) -> np.ndarray:
    """What an estimator finds in the image flipped left to right: every point mirrored, and the
    points named by how they appear (the person's left arm now looks like a right arm)."""
    return (points * np.array([-1, 1], np.float32) + np.array([width, 0], np.float32))[list(MIRROR)]


def test_mirror_symmetric():
    left_up, right_up = STANDING.copy(), STANDING.copy()  # STANDING is symmetric about x = 160
    left_up[COCO.index("left_wrist"), 1] = 20
    right_up[COCO.index("right_wrist"), 1] = 20
    plain, mirrored = OPTIONS, PoseFeatureOptions(mirror=True)
    assert not np.allclose(pose_features(left_up, ALL, plain), pose_features(right_up, ALL, plain), atol=0.1)
    # The mirror image of a raised right arm is a raised left arm ...
    assert np.allclose(pose_features(flip(right_up), ALL, plain), pose_features(left_up, ALL, plain), atol=1e-5)
    # ... and mirroring turns it back: a camera showing users their mirror image reads as one that does not.
    assert np.allclose(pose_features(flip(right_up), ALL, mirrored), pose_features(right_up, ALL, plain), atol=1e-5)
    assert np.allclose(pose_features(flip(flip(ARMS_UP)), ALL, plain), pose_features(ARMS_UP, ALL, plain), atol=1e-5)


def test_stable_with_missing_keypoints():
    reference = pose_features(STANDING, ALL, OPTIONS)
    seen = ALL.copy()
    ankles = [COCO.index("left_ankle"), COCO.index("right_ankle")]
    seen[ankles] = False
    noisy = STANDING.copy()
    noisy[ankles] = (9999, -9999)  # wherever an unseen point is guessed, it does not leak in
    vector = pose_features(noisy, seen, OPTIONS)
    xy, mask = vector[:34].reshape(17, 2), vector[34:51]
    assert (xy[ankles] == 0).all() and (mask[ankles] == 0).all() and mask.sum() == 15
    others = [i for i in range(17) if i not in ankles]
    assert np.allclose(xy[others], reference[:34].reshape(17, 2)[others], atol=1e-6)
    knee = ANGLES.index((COCO.index("left_hip"), COCO.index("left_knee"), COCO.index("left_ankle")))
    assert vector[51 + knee] == 0  # an angle with an unseen point is 0, not a guess
    # No hips: the shoulders centre the pose; nothing seen at all: zeros, never NaN.
    no_hips = ALL.copy()
    no_hips[[COCO.index("left_hip"), COCO.index("right_hip")]] = False
    assert np.isfinite(pose_features(STANDING, no_hips, OPTIONS)).all()
    assert (pose_features(STANDING, np.zeros(17, bool), OPTIONS) == 0).all()
