"""A loaded model: runtime, tensor specs, labels and what kind of model it is."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np

from edgetm.errors import LabelsError
from edgetm.model.backend import Backend
from edgetm.model.labels import class_name
from edgetm.model.spec import TensorSpec
from edgetm.records import Record, field

# A detector's feature maps line up only at multiples of its largest stride: YOLO's is 32.
DEFAULT_STRIDE = 32


class ModelFormat(enum.Enum):
    TFLITE = "tflite"
    ONNX = "onnx"


class Family(enum.Enum):
    """Who exported the model; decides preprocessing defaults."""

    TEACHABLE_MACHINE = "teachable-machine"
    ULTRALYTICS = "ultralytics"
    GENERIC = "generic"


class TaskKind(enum.Enum):
    """What a model does, as far as its outputs and metadata tell."""

    CLASSIFY = "classify"
    DETECT = "detect"
    POSE = "pose"
    SOUND = "sound"
    UNKNOWN = "unknown"


class Model(Record, frozen=False):
    """A network ready to run. ``run`` takes and returns raw tensors in the model's dtypes."""

    source: str
    format: ModelFormat
    backend: Backend
    family: Family = Family.GENERIC
    task: TaskKind = TaskKind.UNKNOWN
    labels: list[str] | None = None
    labels_source: str | None = None
    metadata: dict = field(default_factory=dict)
    # The caller fixed the input's dynamic sides (``input_size``): frames go into that shape.
    sized: bool = False

    @property
    def inputs(self) -> list[TensorSpec]:
        return self.backend.inputs

    @property
    def outputs(self) -> list[TensorSpec]:
        return self.backend.outputs

    @property
    def input(self) -> TensorSpec:
        return self.backend.inputs[0]

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        return self.backend.run(inputs)

    def run_sized(self, image: np.ndarray) -> list[np.ndarray]:
        """Run a one-input model on ``image`` at whatever shape its dynamic axes allow (rectangular
        inference: one shape per frame geometry). ``inputs`` and ``outputs`` keep the shapes chosen
        at load; the runtime is resized only when the shape differs from the previous run's."""
        self.backend.fit(image.shape)
        return self.backend.run((image,))

    @property
    def stride(self) -> int:
        """A detector's largest stride: its metadata's (Ultralytics writes it), else YOLO's."""
        stride = self.metadata.get("stride")
        return stride if isinstance(stride, int) and stride >= 1 else DEFAULT_STRIDE

    def resize(self, *shapes: tuple[int, ...]) -> None:
        """Run at new input shapes (dynamic models only)."""
        from edgetm.model.load import warm_up_inputs

        self.backend.resize(shapes)
        self.backend.learn_output_shapes(self.run(*warm_up_inputs(self.inputs, self.metadata.get("sample_rate"))))

    @property
    def num_classes(self) -> int | None:
        """Size of a classifier's score vector (a sound model's: the last axis of its first output)."""
        if self.task is TaskKind.SOUND:
            return self.outputs[0].shape[-1] if self.outputs[0].shape else 1
        if self.task is not TaskKind.CLASSIFY:
            return None
        return math.prod(self.outputs[0].shape)

    def check_labels(self) -> None:
        """A classifier's labels must match its output size one to one."""
        n = self.num_classes
        if self.labels is not None and n is not None and len(self.labels) != n:
            raise LabelsError(
                f"{self.labels_source or 'the labels'} has {len(self.labels)} labels but the model "
                f"outputs {n} classes",
                "use the labels.txt exported with this model",
            )

    def label(self, index: int) -> str:
        if self.labels is not None and 0 <= index < len(self.labels):
            return self.labels[index]
        return class_name(index)

    def info(self) -> dict:
        return {
            "source": self.source,
            "format": self.format.value,
            **self.backend.describe(),
            "family": self.family.value,
            "task": self.task.value,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "labels": {"count": len(self.labels) if self.labels else 0, "source": self.labels_source,
                       "first": (self.labels or [])[:10]},
        }


# A window of sound is at least a few hundred samples (25 ms at 16 kHz); feature vectors (a pose's
# keypoints) that also come as [1, N] are shorter.
MIN_SOUND_SAMPLES = 400


def is_waveform(spec: TensorSpec) -> bool:
    """A float input of raw samples: [N] or [1, N], long or of open length."""
    signature = spec.signature
    if not np.issubdtype(spec.dtype, np.floating) or len(signature) not in (1, 2):
        return False
    if len(signature) == 2 and signature[0] not in (1, -1):
        return False
    return signature[-1] < 0 or signature[-1] >= MIN_SOUND_SAMPLES


def detect_task(outputs: Sequence[TensorSpec], metadata: dict, inputs: Sequence[TensorSpec] = ()) -> TaskKind:
    """What a model does, from its metadata (Ultralytics' task, TFLite's audio properties) or else
    its input and output shapes."""
    declared = str(metadata.get("task", "")).lower()
    if declared in ("classify", "detect", "pose"):
        return TaskKind(declared)
    if "audio" in metadata or (inputs and is_waveform(inputs[0])):
        return TaskKind.SOUND
    if len(outputs) == 4:  # TFLite SSD: boxes, classes, scores, count
        return TaskKind.DETECT
    if len(outputs) == 2 and sorted(o.shape[-1] for o in outputs) == [1, 12] and \
            len({o.shape[-2] for o in outputs}) == 1:  # BlazePose's detector: per anchor a box and 4 points, a score
        return TaskKind.POSE
    if len(outputs) != 1:
        return TaskKind.UNKNOWN
    shape = [d for d in outputs[0].shape if d != 1]
    if len(shape) == 1:
        return TaskKind.CLASSIFY
    if shape in ([17, 3], [1, 17, 3]):
        return TaskKind.POSE
    if len(shape) == 2 and max(shape) > 5 and min(shape) >= 5:
        return TaskKind.DETECT
    return TaskKind.UNKNOWN
