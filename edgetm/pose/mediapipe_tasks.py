"""MediaPipe Tasks' PoseLandmarker, for a ``.task`` bundle, when the ``pose`` extra is installed.

The mediapipe package is imported only here, and only when asked for: it is large, replaces the
headless OpenCV build and has no models of its own. Its 33 landmarks are mapped onto COCO's 17.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgetm.errors import ConfigError, missing_dependency
from edgetm.pose.base import PoseEstimator, PoseOptions, person
from edgetm.pose.skeleton import BLAZEPOSE, BLAZEPOSE_TO_COCO
from edgetm.results import Keypoint, Person


class MediaPipePose(PoseEstimator):
    name = "mediapipe"

    def __init__(self, bundle: str | Path, options: PoseOptions) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError:
            raise missing_dependency("mediapipe", extra="pose") from None
        if not Path(bundle).is_file():
            raise ConfigError(f"{bundle} does not exist", "give a MediaPipe pose landmarker .task file")
        self.mp, self.options = mp, options
        mode = vision.RunningMode.VIDEO if options.tracking else vision.RunningMode.IMAGE
        self.landmarker = vision.PoseLandmarker.create_from_options(vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(bundle)), running_mode=mode, num_poses=options.max_persons,
            min_pose_detection_confidence=options.conf))
        self._clock = 0

    def estimate(self, image: np.ndarray) -> tuple[list[Person], dict[str, float]]:
        import cv2

        start = time.perf_counter()
        height, width = image.shape[:2]
        frame = self.mp.Image(image_format=self.mp.ImageFormat.SRGB, data=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        if self.options.tracking:
            self._clock += 33  # VIDEO mode wants rising timestamps in milliseconds
            result = self.landmarker.detect_for_video(frame, self._clock)
        else:
            result = self.landmarker.detect(frame)
        persons = []
        least = self.options.min_keypoint_score
        for landmarks in result.pose_landmarks:
            values = np.array([[p.x * width, p.y * height, p.visibility] for p in landmarks])
            coco = values[list(BLAZEPOSE_TO_COCO)]
            found = person(coco[:, :2], coco[:, 2], least)
            found.extra = [Keypoint(name, float(x), float(y), float(v), bool(v >= least))
                           for name, (x, y, v) in zip(BLAZEPOSE, values.tolist(), strict=True)]
            persons.append(found)
        return persons, {"inference": (time.perf_counter() - start) * 1e3}
