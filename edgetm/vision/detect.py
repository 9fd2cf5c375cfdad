"""Object detection: read any common detector export's output, suppress overlaps, map boxes back.

Output layouts (detected from shapes and metadata, or named with ``layout``):

- ``yolov8``: [1, 4+nc, N], boxes cx, cy, w, h then class scores (YOLOv8, YOLO11);
- ``yolov5``: [1, N, 5+nc], boxes, objectness, class scores; score = objectness x class score;
- ``yolox``: [1, N, 5+nc] undecoded: boxes are grid offsets and log sizes per stride (8, 16, 32);
  YOLOX takes raw 0..255 BGR pixels, letterboxed into the top-left corner;
- ``end2end``: [1, K, 6] x1, y1, x2, y2, score, class: NMS already done in the graph;
- ``ssd``: TFLite's detection post-processing op, four outputs (boxes as ymin, xmin, ymax,
  xmax in 0..1, classes, scores, count).

Ultralytics' TFLite exports give boxes in 0..1 of the input, its ONNX exports give pixels; the
units follow the format unless ``boxes`` says otherwise. Integer outputs are compared with the
confidence threshold in their own quantized scale and only the candidates are dequantized.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np

from edgetm.errors import ConfigError, LabelsError
from edgetm.model.model import Family, Model, ModelFormat, TaskKind
from edgetm.model.spec import TensorSpec
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.results import Detection, Detections
from edgetm.vision.geometry import letterbox
from edgetm.vision.nms import batched_nms, descending, nms
from edgetm.vision.preprocess import ColorOrder, Prepared, PreprocessOptions, Preprocessor, ResizeMode

log = logging.getLogger(__name__)

YOLOX_STRIDES = (8, 16, 32)


class DetectLayout(enum.Enum):
    YOLOV8 = "yolov8"
    YOLOV5 = "yolov5"
    YOLOX = "yolox"
    END_TO_END = "end2end"
    SSD = "ssd"


class BoxUnits(enum.Enum):
    AUTO = "auto"
    NORMALIZED = "normalized"  # 0..1 of the model's input
    PIXELS = "pixels"  # model input pixels


# Zone corners may lie outside the frame, but not beyond the largest frame there is.
Coordinate = Annotated[float, Field(ge=-16384, le=16384)]
# A class name becomes a topic level and part of a Home Assistant id.
ClassName = Annotated[str, Field(min_length=1, max_length=128)]


class ZoneOptions(Options):
    points: list[tuple[Coordinate, Coordinate]] = Field(min_length=3, max_length=1000, description="polygon "
                                                        "corners [[x, y], ...]")
    units: Literal["fraction", "pixels"] = Field("fraction", description="fractions of the frame (0..1) or pixels")

    def zone(self) -> Zone:
        return Zone(self.points, fractions=self.units == "fraction")


class DetectOptions(Options):
    """What a detector keeps, and in a pipeline what it counts. Confidence, IoU and the number of
    detections default to Ultralytics' own."""

    type: Literal["detect"] = "detect"
    conf: float = Field(0.25, ge=0.0, le=1.0, description="confidence threshold")
    iou: float = Field(0.45, ge=0.0, le=1.0, description="NMS IoU threshold")
    agnostic: bool = Field(False, description="NMS across classes instead of per class")
    classes: tuple[ClassName, ...] | None = Field(None, min_length=1, description="keep (and count) only these labels")
    max_det: int = Field(300, ge=1, le=10000, description="most detections per image")
    layout: DetectLayout | None = Field(None, description="output layout: yolov8, yolov5, yolox, end2end, ssd "
                                        "(default: from the model's shapes)")
    boxes: BoxUnits = Field(BoxUnits.AUTO, description="box units of the output: normalized or pixels (default: "
                            "normalized for TFLite, pixels for ONNX)")
    zone: ZoneOptions | None = Field(None, description="pipelines: count only objects whose box centre is inside "
                                     "this polygon (a detector itself returns every detection)")
    snapshot: bool = Field(False, description="pipelines: publish an annotated JPEG when the counts change")
    rect: bool | None = Field(None, description="models with dynamic image sides: letterbox each frame into the "
                              "smallest rectangle of multiples of the stride that holds it (Ultralytics' rect: 640x384 "
                              "for a 16:9 frame at 640) rather than the square; a fixed-shape model keeps its shape "
                              "(default: on, unless input_size fixes the sides)")


@lru_cache(maxsize=8)
def _yolox_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets [N, 2] and strides [N, 1] for YOLOX decoding at an input size, in output row
    order (one size, or a few under rectangular inference)."""
    grids, strides = [], []
    for stride in YOLOX_STRIDES:
        rows, cols = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full((rows * cols, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _yolox_cells(width: int, height: int) -> int:
    return sum(math.ceil(height / s) * math.ceil(width / s) for s in YOLOX_STRIDES)


def output_layout(model: Model) -> DetectLayout:
    """The output layout of a detector, from its outputs' shapes."""
    outputs = model.outputs
    if len(outputs) == 4:
        return DetectLayout.SSD
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        raise ConfigError(f"{model.source}: outputs {[list(o.shape) for o in outputs]} are not a detector "
                          "layout edgetm knows", "name one with --layout")
    _, a, b = outputs[0].shape
    if b == 6 and a < 1000:
        return DetectLayout.END_TO_END
    if a < b:
        return DetectLayout.YOLOV8
    size = model.input.image_size()
    if size and a == _yolox_cells(*size) and model.family is not Family.ULTRALYTICS:
        return DetectLayout.YOLOX  # anchor-free: one row per grid cell; YOLOv5 has three anchors per cell
    return DetectLayout.YOLOV5


def _threshold(spec: TensorSpec, conf: float) -> float:
    """The value a raw output must exceed for its real value to exceed ``conf``."""
    if spec.is_quantized:
        q = spec.quantization
        assert q is not None
        return math.floor(conf / q.scale + q.zero_point)
    return conf


def _whole(values: np.ndarray) -> bool:
    return bool(np.array_equal(values, np.round(values)))


def _xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)


class Detector:
    """Detects objects in BGR frames. ``prepare`` / ``infer`` split like ``Classifier``'s."""

    def __init__(self, model: Model, options: DetectOptions | None = None,
                 preprocess: PreprocessOptions | None = None) -> None:
        self.model = model
        self.options = options = options or DetectOptions()
        if model.task is TaskKind.CLASSIFY and options.layout is None:
            raise ConfigError(f"{model.source} is a classify model, not a detector", "run it as a classifier "
                              "(edgetm classify)")
        self.layout = options.layout or output_layout(model)
        self._check_shapes()
        self.num_classes = self._num_classes()
        if self.layout is not DetectLayout.SSD and model.labels and len(model.labels) != self.num_classes:
            raise LabelsError(f"{model.labels_source} has {len(model.labels)} labels but the model detects "
                              f"{self.num_classes} classes", "use the labels the model was trained with")
        self.allowed = self._allowed_classes()
        # SSD's anchors are laid out for one input size; the YOLO layouts decode at any.
        # Rectangular by default, as Ultralytics runs a dynamic export; a size the user fixed is kept.
        wanted = options.rect if options.rect is not None else not model.sized
        rect = wanted and model.input.has_dynamic_sides and self.layout is not DetectLayout.SSD
        if options.rect and not rect:  # a fixed-shape model keeps its shape; asked for, that is said, not ignored
            why = f"its input is fixed at {list(model.input.shape)}" if self.layout is not DetectLayout.SSD \
                else "an SSD's anchors are laid out for one input size"
            log.warning("rect does not apply to %s: %s, so every frame is letterboxed into it (export the model "
                        "with dynamic axes for rectangular inference; Ultralytics: yolo export ... dynamic=True)",
                        model.source, why)
        self.preprocessor = Preprocessor(model, self._preprocess_defaults(preprocess),
                                         rect_stride=model.stride if rect else None)
        self.rect = self.preprocessor.rect_stride is not None
        self._run = model.run_sized if self.rect else model.run
        units = options.boxes
        if units is BoxUnits.AUTO:
            units = BoxUnits.NORMALIZED if model.format is ModelFormat.TFLITE or self.layout is DetectLayout.SSD \
                else BoxUnits.PIXELS
        self.normalized = units is BoxUnits.NORMALIZED

    # -- set-up ---------------------------------------------------------------------------------
    def _check_shapes(self) -> None:
        outputs = self.model.outputs
        expected = 4 if self.layout is DetectLayout.SSD else 1
        if len(outputs) != expected or (expected == 1 and len(outputs[0].shape) != 3):
            raise ConfigError(f"{self.model.source}: outputs {[list(o.shape) for o in outputs]} do not fit the "
                              f"{self.layout.value} layout")

    def _num_classes(self) -> int:
        if self.layout is DetectLayout.SSD:
            return len(self.model.labels or [])
        _, a, b = self.model.outputs[0].shape
        return {DetectLayout.YOLOV8: a - 4, DetectLayout.YOLOV5: b - 5, DetectLayout.YOLOX: b - 5,
                DetectLayout.END_TO_END: len(self.model.labels or [])}[self.layout]

    def _allowed_classes(self) -> np.ndarray | None:
        if not self.options.classes:
            return None
        labels = self.model.labels or []
        if not labels:  # classes are found by name: a model without labels has none to find them among
            names = ", ".join(repr(c) for c in self.options.classes)
            raise ConfigError(f"{self.model.source} has no labels to find {names} among (its classes read class 0, "
                              "class 1, ...)", "give --labels FILE (labels: under model: in a configuration), one "
                              "class per line in the model's order, or leave out the classes")
        index = {name.lower(): i for i, name in enumerate(labels)}
        missing = [c for c in self.options.classes if c.lower() not in index]
        if missing:
            raise ConfigError(f"no class named {', '.join(repr(m) for m in missing)}",
                              f"the model knows: {', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''}")
        return np.array(sorted(index[c.lower()] for c in self.options.classes), np.intp)

    def _preprocess_defaults(self, given: PreprocessOptions | None) -> PreprocessOptions:
        given = given or PreprocessOptions()
        if self.layout is DetectLayout.YOLOX:  # YOLOX trains on raw BGR, padded at the bottom and right
            custom = given.normalize is not None or given.mean is not None
            return given.model_copy(update={"resize": given.resize or ResizeMode.LETTERBOX,
                                            "normalize": given.normalize if custom else "raw",
                                            "color": given.color or ColorOrder.BGR,
                                            "centre": given.centre if given.centre is not None else False})
        if self.layout is DetectLayout.SSD:  # TF object detection models stretch the frame
            return given.model_copy(update={"resize": given.resize or ResizeMode.SQUASH})
        return given.model_copy(update={"resize": given.resize or ResizeMode.LETTERBOX})

    def describe_rect(self) -> str | None:
        """What ``edgetm info`` says about rectangular inference, None when there is nothing to say."""
        width, height = self.preprocessor.width, self.preprocessor.height
        stride = self.model.stride
        wide = "x".join(map(str, letterbox((1280, 720), (width, height), self.preprocessor.centre, stride).size))
        if self.rect:
            return (f"on: each frame letterboxed into the smallest rectangle of multiples of {stride} that holds it "
                    f"at {width}x{height} ({wide} for a 1280x720 frame)")
        if self.model.input.has_dynamic_sides:
            why = "an SSD's anchors are laid out for one input size" if self.layout is DetectLayout.SSD else \
                "rect: false" if self.options.rect is False else "input_size fixes the sides"
            return f"off ({why}): every frame letterboxed into {width}x{height} (rect: true under detect: runs " \
                f"1280x720 at {wide})"
        if width == height and self.model.family is Family.ULTRALYTICS:
            return (f"no: this export's input is fixed at {width}x{height}; rectangular inference (a smaller input "
                    "for a wide frame) needs an export with dynamic axes (yolo export format=onnx dynamic=True)")
        return None

    # -- decoding -------------------------------------------------------------------------------
    def _decode(self, outputs: list[np.ndarray], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates above the confidence threshold: boxes (x1, y1, x2, y2 in input pixels), scores, classes."""
        layout, conf, allowed = self.layout, self.options.conf, self.allowed
        scale = np.array([*size, *size], np.float32) if self.normalized else np.ones(4, np.float32)
        if layout is DetectLayout.SSD:
            return self._decode_ssd(outputs, scale)
        spec = self.model.outputs[0]
        raw = outputs[0][0]
        threshold = _threshold(spec, conf)
        if layout is DetectLayout.YOLOV8:
            scores_raw = raw[4:] if allowed is None else raw[4:][allowed]
            best = scores_raw.max(axis=0)
            keep = np.flatnonzero(best > threshold)
            classes = scores_raw[:, keep].argmax(axis=0)
            scores = spec.dequantize(best[keep])
            boxes = _xywh_to_xyxy(spec.dequantize(raw[:4, keep]).T * scale)
        elif layout is DetectLayout.END_TO_END:
            rows = spec.dequantize(raw)
            keep = np.flatnonzero(rows[:, 4] > conf)
            classes = rows[keep, 5].astype(np.intp)
            if allowed is not None:
                inside = np.isin(classes, allowed)
                keep, classes = keep[inside], classes[inside]
            return rows[keep, :4] * scale, rows[keep, 4], classes
        else:  # yolov5, yolox: objectness first; a class score can only lower it
            keep = np.flatnonzero(raw[:, 4] > threshold)
            rows = spec.dequantize(raw[keep])
            class_scores = rows[:, 5:] if allowed is None else rows[:, 5:][:, allowed]
            classes = class_scores.argmax(axis=1)
            scores = rows[:, 4] * class_scores[np.arange(len(rows)), classes]
            good = scores > conf
            rows, classes, scores = rows[good], classes[good], scores[good]
            xywh = rows[:, :4]
            if layout is DetectLayout.YOLOX:
                grid, stride = _yolox_grid(*size)
                xywh = np.concatenate([(xywh[:, :2] + grid[keep[good]]) * stride[keep[good]],
                                       np.exp(xywh[:, 2:4]) * stride[keep[good]]], axis=1)
            boxes = _xywh_to_xyxy(xywh * scale)
        if allowed is not None:
            classes = allowed[classes]
        return boxes, scores.astype(np.float32), classes.astype(np.intp)

    def _decode_ssd(self, outputs: list[np.ndarray], scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = [self.model.outputs[i].dequantize(o) for i, o in enumerate(outputs)]
        boxes = next(v for v in values if v.ndim == 3 and v.shape[-1] == 4)[0]
        count = int(next(v for v in values if v.size == 1).reshape(-1)[0])
        first, second = (v[0] for v in values if v.ndim == 2 and v.size > 1)
        # Exports disagree on whether classes or scores come first; classes are whole numbers. When
        # both look whole (nothing found), TF1's order (classes, then scores) is as good as any.
        classes, scores = (second, first) if _whole(second) and not _whole(first) else (first, second)
        count = min(count, len(scores))
        keep = np.flatnonzero(scores[:count] > self.options.conf)
        classes = classes[keep].astype(np.intp)
        if self.allowed is not None:
            inside = np.isin(classes, self.allowed)
            keep, classes = keep[inside], classes[inside]
        yxyx = boxes[keep] * scale[[1, 0, 3, 2]]
        return yxyx[:, [1, 0, 3, 2]], scores[keep].astype(np.float32), classes

    def postprocess(self, outputs: list[np.ndarray], size: tuple[int, int] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Final boxes (model input pixels), scores and classes, best first, at most ``max_det``.
        ``size``: the (width, height) the outputs were computed at (default: the model's)."""
        boxes, scores, classes = self._decode(outputs, size or (self.preprocessor.width, self.preprocessor.height))
        if self.layout in (DetectLayout.END_TO_END, DetectLayout.SSD):
            order = descending(scores)
        elif self.options.agnostic:
            order = nms(boxes, scores, self.options.iou)
        else:
            order = batched_nms(boxes, scores, classes, self.options.iou)
        order = order[: self.options.max_det]
        return boxes[order], scores[order], classes[order]

    # -- running --------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray) -> Prepared:
        return self.preprocessor.prepare(image)

    def infer(self, prepared: Prepared, source: str | None = None) -> Detections:
        t0 = time.perf_counter()
        outputs = self._run(prepared.tensor)
        t1 = time.perf_counter()
        boxes, scores, classes = self.postprocess(outputs, self.preprocessor.size_of(prepared.tensor))
        mapped = prepared.transform.to_source(boxes) if len(boxes) else boxes
        detections = [
            Detection(self.model.label(c), c, s, (b[0], b[1], b[2], b[3]))
            for b, s, c in zip(mapped.tolist(), scores.tolist(), classes.tolist(), strict=True)
        ]
        t2 = time.perf_counter()
        return Detections(detections, prepared.transform.source_size,
                          {"preprocess": prepared.preprocess_ms, "inference": (t1 - t0) * 1e3,
                           "postprocess": (t2 - t1) * 1e3}, source)

    def detect(self, image: np.ndarray, source: str | None = None) -> Detections:
        return self.infer(self.prepare(image), source)

    __call__ = detect


class Zone:
    """A polygon of the source frame; only objects whose box centre lies inside are counted.

    Points are fractions of the frame (0..1) when ``fractions`` is true, else pixels.
    """

    def __init__(self, points: list[tuple[float, float]], fractions: bool = True) -> None:
        if len(points) < 3:
            raise ConfigError("a zone needs at least three points")
        self.points = np.asarray(points, np.float64)
        self.fractions = fractions

    def contains(self, detections: list[Detection], image_size: tuple[int, int]) -> list[bool]:
        if not detections:
            return []
        polygon = self.points * (np.array(image_size, np.float64) if self.fractions else 1.0)
        centres = np.array([d.centre for d in detections], np.float64)
        x, y = centres[:, 0:1], centres[:, 1:2]
        x1, y1 = polygon[:, 0], polygon[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        # Ray casting: count the polygon edges a ray to the right of each centre crosses.
        crosses = ((y1 > y) != (y2 > y))
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside = np.count_nonzero(crosses & (x < at), axis=1) % 2 == 1
        return inside.tolist()
