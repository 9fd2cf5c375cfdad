"""BlazePose through LiteRT, without the mediapipe package: MediaPipe's two-stage pose pipeline.

1. The detector (``pose_detection.tflite``, 224 x 224, RGB in [-1, 1], letterboxed) scores 2254 SSD
   anchors, generated here from MediaPipe's anchor parameters; boxes and 4 keypoints are decoded
   relative to them, and overlapping detections are merged by weighted NMS.
2. A detection's keypoints 0 (the hip centre) and 1 (a point giving the body's size and rotation)
   make a rotated square region (twice their distance, enlarged 1.25x), which is cut out to
   256 x 256 (RGB, [0, 1]) for the landmark model (``pose_landmark_full.tflite``): 33 body landmarks
   with visibility and presence, and 6 auxiliary ones.
3. Tracking: the auxiliary landmarks 33 and 34 make the next frame's region the same way, so the
   detector runs again only when the landmark model's pose presence drops below 0.5.

The constants are those of MediaPipe's pose_detection and pose_landmark graphs.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.model import Model
from edgetm.pose.base import PoseEstimator, PoseOptions, person
from edgetm.pose.skeleton import BLAZEPOSE, BLAZEPOSE_TO_COCO
from edgetm.records import Record
from edgetm.results import Keypoint, Person

# SsdAnchorsCalculatorOptions of pose_detection_cpu.pbtxt.
ANCHOR_LAYERS = 5
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_MIN_SCALE, ANCHOR_MAX_SCALE = 0.1484375, 0.75
ANCHOR_OFFSET = 0.5
DETECTOR_SIZE = 224
SCORE_CLIP = 100.0  # logits are clipped to +-100 before the sigmoid
NMS_OVERLAP = 0.3  # weighted NMS merges detections overlapping more than this (IoU)
ROI_SCALE = 1.25  # RectTransformationCalculator: the region is enlarged so that the whole body fits
LANDMARK_SIZE = 256
PRESENCE_THRESHOLD = 0.5  # below this the landmark model has lost the person
HEATMAP_KERNEL = 7  # RefineLandmarksFromHeatmapCalculator: the window around each landmark
HEATMAP_MIN_CONFIDENCE = 0.5  # ... and how sure its heatmap must be there for the refinement to count
AUXILIARY = (33, 34)  # the landmarks that place the next frame's region
LANDMARK_FILES = ("pose_landmark_full.tflite", "pose_landmark_heavy.tflite", "pose_landmark_lite.tflite")
TASK_LANDMARKS = "pose_landmarks_detector.tflite"  # in a MediaPipe Tasks bundle


@lru_cache(maxsize=4)
def ssd_anchors(size: int = DETECTOR_SIZE) -> np.ndarray:
    """[N, 2] anchor centres (x, y), normalised, in MediaPipe's order (anchors have unit size)."""

    def scale(index: int) -> float:
        return ANCHOR_MIN_SCALE + (ANCHOR_MAX_SCALE - ANCHOR_MIN_SCALE) * index / (ANCHOR_LAYERS - 1)

    centres = []
    layer = 0
    while layer < ANCHOR_LAYERS:
        per_cell = 0
        last = layer
        while last < ANCHOR_LAYERS and ANCHOR_STRIDES[last] == ANCHOR_STRIDES[layer]:
            per_cell += 2  # aspect ratio 1, and the interpolated scale between this layer and the next
            last += 1
        cells = math.ceil(size / ANCHOR_STRIDES[layer])
        for y in range(cells):
            for x in range(cells):
                centres += [((x + ANCHOR_OFFSET) / cells, (y + ANCHOR_OFFSET) / cells)] * per_cell
        layer = last
    return np.array(centres, np.float32)


class Region(Record):
    """A rotated square of the image, in pixels: centre, side, rotation (radians)."""

    cx: float
    cy: float
    side: float
    rotation: float

    @staticmethod
    def aligned(start: np.ndarray, end: np.ndarray) -> Region:
        """MediaPipe's AlignmentPointsRectsCalculator (target angle 90 degrees) then
        RectTransformationCalculator (square, scale 1.25): points in pixels."""
        side = 2.0 * float(np.linalg.norm(end - start)) * ROI_SCALE
        angle = math.pi / 2 - math.atan2(-(end[1] - start[1]), end[0] - start[0])
        angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
        return Region(float(start[0]), float(start[1]), side, angle)

    def to_image(self, size: int) -> np.ndarray:
        """2x3 affine from a size x size crop of the region to image pixels."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = self.side / size
        return np.array([[k * c, -k * s, self.cx - (c * self.side - s * self.side) / 2],
                         [k * s, k * c, self.cy - (s * self.side + c * self.side) / 2]], np.float64)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, threshold: float
                 ) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's weighted NMS: each kept detection's box and keypoints are the score-weighted mean
    of the detections overlapping it by more than ``threshold`` (IoU); its score stays its own."""
    order = np.argsort(-scores)
    boxes, scores, points = boxes[order], scores[order], points[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    left = np.ones(len(scores), bool)
    kept = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        x1 = np.maximum(boxes[i, 0], boxes[:, 0])
        y1 = np.maximum(boxes[i, 1], boxes[:, 1])
        x2 = np.minimum(boxes[i, 2], boxes[:, 2])
        y2 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = left & (iou > threshold)
        group[i] = True
        weights = scores[group][:, None]
        kept.append(((boxes[group] * weights).sum(0) / weights.sum(), float(scores[i]),
                     (points[group] * weights[:, :, None]).sum(0) / weights.sum()))
        left &= ~group
    return kept


def refine(values: np.ndarray, heatmap: np.ndarray, size: int) -> None:
    """MediaPipe's RefineLandmarksFromHeatmapCalculator, in place: each landmark moves to the
    confidence-weighted centre of the heatmap's cells around it, where the heatmap is sure enough.
    ``values`` are [L, 5] in crop pixels, ``heatmap`` [H, W, L] logits. All landmarks at once: a
    loop over them costs more than the rest of the post-processing."""
    rows, cols, count = heatmap.shape[0], heatmap.shape[1], min(len(values), heatmap.shape[2])
    # Truncated toward zero, as MediaPipe's static_cast<int> does.
    col = (values[:count, 0] / size * cols).astype(np.int64)
    row = (values[:count, 1] / size * rows).astype(np.int64)
    chosen = np.flatnonzero((col >= 0) & (col < cols) & (row >= 0) & (row < rows))
    if not len(chosen):
        return
    offsets = np.arange(HEATMAP_KERNEL) - (HEATMAP_KERNEL - 1) // 2
    r, c = row[chosen, None] + offsets, col[chosen, None] + offsets  # [n, K] each
    inside = ((r >= 0) & (r < rows))[:, :, None] & ((c >= 0) & (c < cols))[:, None, :]
    logits = heatmap[np.clip(r, 0, rows - 1)[:, :, None], np.clip(c, 0, cols - 1)[:, None, :], chosen[:, None, None]]
    confidence = np.where(inside, 1 / (1 + np.exp(-logits.astype(np.float64))), 0.0)  # [n, K, K]
    total = confidence.sum(axis=(1, 2))
    sure = (confidence.max(axis=(1, 2)) >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    if not sure.any():
        return
    confidence, total, r, c = confidence[sure], total[sure], r[sure], c[sure]
    values[chosen[sure], 0] = (confidence * c[:, None, :]).sum(axis=(1, 2)) / total / cols * size
    values[chosen[sure], 1] = (confidence * r[:, :, None]).sum(axis=(1, 2)) / total / rows * size


def open_landmarks(detector: Model, options: PoseOptions) -> Model:
    """The landmark model: the one named, else the one in the detector's .task bundle, else the
    first of ``LANDMARK_FILES`` beside the detector. It runs on as many threads as the detector."""
    from edgetm.model.load import load_model
    from edgetm.pose.estimators import bundle_of

    threads = detector.backend.describe().get("threads")
    if options.landmarks:
        return load_model(options.landmarks, threads=threads)
    bundle = bundle_of(detector.source)
    if bundle is not None:
        return load_model(bundle, threads=threads, member=TASK_LANDMARKS)
    folder = Path(detector.source).parent
    beside = next((folder / name for name in LANDMARK_FILES if (folder / name).is_file()), None)
    if beside is None:
        raise ConfigError(f"BlazePose needs its landmark model beside {detector.source}",
                          f"put {LANDMARK_FILES[0]} there, or give landmarks")
    return load_model(beside, threads=threads)


class BlazePose(PoseEstimator):
    name = "blazepose"

    def __init__(self, detector: Model, options: PoseOptions, landmarks: Model) -> None:
        outputs = sorted(detector.outputs, key=lambda o: o.shape[-1])
        if detector.input.shape[1:3] != (DETECTOR_SIZE, DETECTOR_SIZE) or len(outputs) != 2 or \
                outputs[1].shape[-1] != 12 or outputs[0].shape[1] != len(ssd_anchors()):
            raise ConfigError(f"{detector.source} is not BlazePose's pose detector",
                              "it takes [1, 224, 224, 3] and gives [1, 2254, 12] and [1, 2254, 1]")
        if landmarks.input.shape[1:3] != (LANDMARK_SIZE, LANDMARK_SIZE) or landmarks.outputs[0].shape[-1] < 165:
            raise ConfigError(f"{landmarks.source} is not BlazePose's landmark model",
                              "it takes [1, 256, 256, 3] and gives [1, 195] landmarks first")
        self.detector, self.landmarks, self.options = detector, landmarks, options
        self._boxes = next(i for i, o in enumerate(detector.outputs) if o.shape[-1] == 12)
        self._presence = next((i for i, o in enumerate(landmarks.outputs) if tuple(o.shape) == (1, 1)), 1)
        self._heatmap = next((i for i, o in enumerate(landmarks.outputs) if len(o.shape) == 4 and
                              o.shape[-1] == landmarks.outputs[0].shape[-1] // 5), None)
        self._scores = 1 - self._boxes
        self.region: Region | None = None
        self.detections = 0  # how often the detector ran

    def reset(self) -> None:
        self.region = None

    # -- stage 1 --------------------------------------------------------------------------------
    def _detect(self, image: np.ndarray) -> list[Region]:
        import cv2

        height, width = image.shape[:2]
        scale = DETECTOR_SIZE / max(width, height)
        # The letterbox is exact (not whole pixels), as MediaPipe's ImageToTensorCalculator makes it.
        pad_x, pad_y = (DETECTOR_SIZE - width * scale) / 2, (DETECTOR_SIZE - height * scale) / 2
        matrix = np.array([[scale, 0, pad_x], [0, scale, pad_y]], np.float32)
        letterboxed = cv2.warpAffine(image, matrix, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT)
        rgb = cv2.cvtColor(letterboxed, cv2.COLOR_BGR2RGB)
        tensor = cv2.addWeighted(rgb, 1 / 127.5, rgb, 0, -1.0, dtype=cv2.CV_32F)[None]
        outputs = self.detector.run(tensor)
        self.detections += 1
        raw, logits = outputs[self._boxes][0], outputs[self._scores][0, :, 0]
        scores = 0.5 * (1 + np.tanh(np.clip(logits, -SCORE_CLIP, SCORE_CLIP) / 2))  # the sigmoid, without overflow
        keep = np.flatnonzero(scores >= self.options.conf)
        if not len(keep):
            return []
        anchors = ssd_anchors()[keep]
        raw = raw[keep] / DETECTOR_SIZE
        centres = raw[:, 0:2] + anchors
        boxes = np.concatenate([centres - raw[:, 2:4] / 2, centres + raw[:, 2:4] / 2], axis=1)
        points = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :]
        regions = []
        for _, _, keypoints in weighted_nms(boxes, scores[keep], points, NMS_OVERLAP)[: self.options.max_persons]:
            pixels = (keypoints * DETECTOR_SIZE - [pad_x, pad_y]) / scale  # letterbox removed
            regions.append(Region.aligned(pixels[0], pixels[1]))
        return regions

    # -- stage 2 --------------------------------------------------------------------------------
    def _landmarks(self, image: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
        """[39, 5] landmarks (x, y in image pixels, z, visibility, presence) and pose presence."""
        import cv2

        to_image = region.to_image(LANDMARK_SIZE)
        to_crop = cv2.invertAffineTransform(to_image)
        # The region often reaches past the image (a body cut off by the frame): MediaPipe repeats the
        # edge pixels there (ImageToTensorCalculator's default border), and the model expects that.
        cropped = cv2.warpAffine(image, to_crop, (LANDMARK_SIZE, LANDMARK_SIZE), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(cropped, cv2.COLOR_BGR2RGB)
        tensor = cv2.addWeighted(rgb, 1 / 255.0, rgb, 0, 0.0, dtype=cv2.CV_32F)[None]
        outputs = self.landmarks.run(tensor)
        values = outputs[0].reshape(-1, 5).astype(np.float64)
        presence = float(outputs[self._presence].reshape(-1)[0])  # already a probability
        if self._heatmap is not None:
            refine(values, outputs[self._heatmap][0], LANDMARK_SIZE)
        xy1 = np.concatenate([values[:, :2], np.ones((len(values), 1))], axis=1)
        values[:, :2] = xy1 @ to_image.T
        values[:, 3:5] = 1 / (1 + np.exp(-values[:, 3:5]))
        return values, presence

    def estimate(self, image: np.ndarray) -> tuple[list[Person], dict[str, float]]:
        t0 = time.perf_counter()
        regions = [self.region] if self.region is not None else self._detect(image)
        t1 = time.perf_counter()
        persons = []
        for n, region in enumerate(regions):
            values, presence = self._landmarks(image, region)
            if presence < PRESENCE_THRESHOLD:
                if n == 0 and self.region is not None:  # lost the tracked person: look again next frame
                    self.region = None
                continue
            body = values[:len(BLAZEPOSE)]
            found = person(body[list(BLAZEPOSE_TO_COCO), :2], body[list(BLAZEPOSE_TO_COCO), 3],
                           self.options.min_keypoint_score, presence)
            found.extra = [Keypoint(name, float(x), float(y), float(v), bool(v >= self.options.min_keypoint_score))
                           for name, (x, y, _, v, _) in zip(BLAZEPOSE, body.tolist(), strict=True)]
            persons.append(found)
            if n == 0 and self.options.tracking:
                self.region = Region.aligned(values[AUXILIARY[0], :2], values[AUXILIARY[1], :2])
        if not persons:
            self.region = None
        t2 = time.perf_counter()
        return persons, {"detection": (t1 - t0) * 1e3, "landmarks": (t2 - t1) * 1e3}

    def describe(self) -> dict:
        return {"estimator": self.name, "landmarks": self.landmarks.source, "tracking": self.options.tracking}
