"""How to find and run a model: one definition, used by ``load_model``, the configuration and the CLI."""


import os
from typing import Annotated

from edgetm.options import Field
from edgetm.plugins import LocalPath, Options

# The longest side of a model input: over three times YOLO's largest (1280), and a float input of
# 4096x4096 already takes 200 MB.
MAX_INPUT_SIDE = 4096
Side = Annotated[int, Field(ge=1, le=MAX_INPUT_SIDE)]
# The most samples of sound one call or one step takes: over ten minutes at 16 kHz.
MAX_SAMPLES = 10_000_000


class ModelOptions(Options):
    path: LocalPath = Field(description=".tflite / .onnx file, or a Teachable Machine export folder or zip")
    labels: LocalPath | None = Field(None, description="labels file (default: labels.txt beside the model, then "
                                     "labels embedded in the model)")
    threads: int | None = Field(None, ge=1, le=256, description="inference threads (default: all cores; for a "
                                "camera, stream or microphone, one for a TFLite model whose one-thread invoke takes "
                                "at most 10 ms)")
    delegate: str | None = Field(None, max_length=4096, description="TFLite delegate: edgetpu or a library path")
    providers: tuple[str, ...] | None = Field(None, min_length=1, description="ONNX Runtime execution providers, "
                                              "preferred first (default: TensorRT, CUDA, CPU, those present)")
    spin: bool | None = Field(None, description="ONNX Runtime: let idle threads spin waiting for the next run: "
                              "faster back to back, but up to a core of CPU while a camera's next frame is awaited "
                              "(default: on back to back, off for a camera, stream or microphone)")
    input_size: tuple[Side, Side] | None = Field(None, description="[width, height] for models with dynamic input "
                                               "(default: from the model's metadata, else 224x224)")
    input_samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="sound models with a dynamic input "
                                      "length: samples per call (default: one second)")
    sample_rate: int | None = Field(None, ge=1000, le=384_000, description="sound models: the rate they take "
                                    "(default: from their metadata, else their input length, else 16000)")
    watch: bool = Field(False, description="edgetm run: swap the model in again when its file changes (once the "
                        "file is complete and unchanged for a moment)")

    @property
    def all_threads(self) -> int:
        """``threads``, or every core when not given."""
        return self.threads or os.cpu_count() or 1
