"""``edgetm train``: a dataset's features from a base, a new head on them, a report, and a model
any runtime loads, laid out like a Teachable Machine export (the model file and ``labels.txt``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgetm.errors import ConfigError
from edgetm.options import Field
from edgetm.records import Record, field
from edgetm.results import to_json
from edgetm.train.bases import BUILTIN, FeatureBase, ModelBase, builtin_base
from edgetm.train.dataset import Dataset, Kind, read_dataset
from edgetm.train.head import Epoch, HeadOptions, split, train_head

CACHE = ".edgetm-cache"
REPORT = "report.json"
EXPORT_NAMES = ("model_unquant.tflite", "model.tflite", "model.onnx")
# The exported model must give the in-memory head's answers to within this (float32 rounding).
EXPORT_TOLERANCE = 1e-5


class TrainOptions(HeadOptions):
    base: str = Field(BUILTIN, description="a TFLite or ONNX image classifier or embedding model, or builtin (a "
                      "colour and texture descriptor, log-mel statistics, or pose features: by the examples)")
    feature_tensor: str | None = Field(None, description="the base's tensor to train on (default: the input of "
                                       "its classification head)")
    augment: int = Field(0, ge=0, le=20, description="images: this many flipped, cropped and brightened copies of "
                         "each training example (validation examples are never augmented)")
    threads: int | None = Field(None, ge=1, le=64, description="runtime threads for the base model")


class Report(Record, frozen=False):
    base: str
    labels: list[str]
    counts: dict[str, int]
    train_examples: int
    val_examples: int
    epochs: list[Epoch]
    best_epoch: int
    stopped_early: bool
    accuracy: dict[str, float | None]
    per_class: dict[str, float | None]
    confusion: list[list[int]]
    confusion_on: str
    model: str
    export_difference: float
    seconds: dict[str, float]
    cached: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out["epochs"] = [e.to_dict() for e in self.epochs]
        return out


def choose_base(options: TrainOptions, kind: Kind) -> FeatureBase:
    if options.base == BUILTIN:
        if options.feature_tensor is not None:
            raise ConfigError("a feature tensor is chosen in a model base; the built-in bases have none",
                              "leave --feature-tensor out, or give --base MODEL")
        return builtin_base(kind)
    if kind is not Kind.IMAGE:
        raise ConfigError(f"the examples are {kind.value}s; a model base takes images", "use --base builtin")
    return ModelBase(options.base, options.feature_tensor, options.threads)


def _augmented(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flipped (half the time), cropped (to 80-100% of each side) and brightened (x0.7-1.3) copy."""
    import cv2

    height, width = image.shape[:2]
    scale = rng.uniform(0.8, 1.0)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
    out = image[y:y + h, x:x + w]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return cv2.convertScaleAbs(np.ascontiguousarray(out), alpha=float(rng.uniform(0.7, 1.3)))


class FeatureCache:
    """Features per example digest, one .npz per base in the dataset's hidden cache folder. A
    folder that cannot be written (read-only media) only means no cache, said once."""

    def __init__(self, dataset: Dataset, base: FeatureBase) -> None:
        self.path = dataset.root / CACHE / f"{base.key}.npz"
        self.known: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    if data["features"].shape[1:] == (base.size,):
                        self.known = dict(zip(data["digests"].tolist(), data["features"], strict=True))
            except (OSError, ValueError, KeyError):
                self.known = {}  # unreadable: made again

    def save(self, digests: list[str], features: np.ndarray) -> str | None:
        try:
            self.path.parent.mkdir(exist_ok=True)
            temporary = self.path.with_suffix(".part.npz")
            np.savez(temporary, digests=np.array(digests), features=features)
            temporary.replace(self.path)
        except OSError as error:
            return f"features not cached: {self.path.parent} cannot be written ({error.strerror or error})"
        return None


def embed_dataset(dataset: Dataset, base: FeatureBase, progress: Callable[[int, int], None] | None = None
                  ) -> tuple[np.ndarray, int, list[str]]:
    """Every example's features (from the cache where it has them), how many came from it, notes."""
    cache = FeatureCache(dataset, base)
    features = np.zeros((len(dataset.examples), base.size), np.float32)
    cached = 0
    for n, example in enumerate(dataset.examples):
        known = cache.known.get(example.digest)
        if known is not None:
            features[n] = known
            cached += 1
        else:
            features[n] = base.embed_example(example.path)
        if progress is not None:
            progress(n + 1, len(dataset.examples))
    notes = []
    if cached < len(dataset.examples):
        note = cache.save([e.digest for e in dataset.examples], features)
        if note:
            notes.append(note)
    return features, cached, notes


def train(data: str | Path, out: str | Path, options: TrainOptions | None = None,
          on_epoch: Callable[[Epoch], None] | None = None,
          on_example: Callable[[int, int], None] | None = None) -> Report:
    """Train a new head for the examples in ``data`` on ``options.base`` and write the model, its
    labels and ``report.json`` into ``out``. Returns the report."""
    options = options or TrainOptions()
    started = time.perf_counter()
    dataset = read_dataset(data)
    if len(dataset.labels) < 2:
        raise ConfigError(f"{dataset.root} has one class ({dataset.labels[0]!r}); a classifier needs two or more",
                          "add a folder of examples of another class (e.g. background)")
    out = Path(out).expanduser()
    if out.resolve() == dataset.root.resolve() or dataset.root.resolve() in out.resolve().parents:
        raise ConfigError(f"{out} is inside the dataset {dataset.root}: the model would become an example",
                          "choose an output folder outside the dataset")
    base = choose_base(options, dataset.kind)
    base.fit([example.path for example in dataset.examples])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create {out}: {error.strerror or error}") from None
    features, cached, notes = embed_dataset(dataset, base, on_example)
    targets = np.array([e.label for e in dataset.examples])
    rng = np.random.default_rng(options.seed)
    train_index, val_index = split(targets, options.val_split, rng)
    if options.augment:
        if dataset.kind is not Kind.IMAGE or not hasattr(base, "embed_image"):
            raise ConfigError("augment applies to images", "leave --augment out")
        from edgetm.vision.image import read_image

        extra, extra_targets = [], []
        for index in train_index.tolist():
            image = read_image(dataset.examples[index].path)
            for _ in range(options.augment):
                extra.append(base.embed_image(_augmented(image, rng)))  # type: ignore[attr-defined]
                extra_targets.append(targets[index])
        train_index = np.concatenate([train_index, np.arange(len(features), len(features) + len(extra))])
        features = np.concatenate([features, np.array(extra, np.float32).reshape(-1, base.size)])
        targets = np.concatenate([targets, np.array(extra_targets, np.int64)])
    embedded = time.perf_counter()
    head_options = HeadOptions(**{k: getattr(options, k) for k in HeadOptions.model_fields})
    trained = train_head(features, targets, dataset.labels, head_options, on_epoch, (train_index, val_index))
    trained_at = time.perf_counter()

    shown = val_index if len(val_index) else train_index
    predicted = trained.head(features[shown]).argmax(axis=1)
    confusion = np.zeros((len(dataset.labels), len(dataset.labels)), np.int64)
    np.add.at(confusion, (targets[shown], predicted), 1)
    per_class = {label: (round(float(confusion[n, n] / confusion[n].sum()), 4) if confusion[n].sum() else None)
                 for n, label in enumerate(dataset.labels)}
    accuracy = {"train": round(float((trained.head(features[train_index]).argmax(1) == targets[train_index]).mean()),
                               4),
                "val": round(float((predicted == targets[shown]).mean()), 4) if len(val_index) else None}

    for stale in EXPORT_NAMES:  # an earlier run's model would be the one a loader picks from the folder
        (out / stale).unlink(missing_ok=True)
    model_path = base.export(trained.head, out)
    (out / "labels.txt").write_text("".join(f"{n} {label}\n" for n, label in enumerate(dataset.labels)))
    difference = _check_export(model_path, base, trained.head, features[shown[:16]],
                               [dataset.examples[i].path for i in shown[:16] if i < len(dataset.examples)])
    report = Report(base.description, dataset.labels, dataset.counts(), len(train_index), len(val_index),
                    trained.history, trained.best_epoch, trained.stopped_early, accuracy, per_class,
                    confusion.tolist(), "validation" if len(val_index) else "training", str(model_path),
                    difference, {"embed": round(embedded - started, 3), "train": round(trained_at - embedded, 3)},
                    cached, notes)
    from edgetm.train.plots import write_plots

    note = write_plots(report, out)
    if note:
        report.notes.append(note)
    (out / REPORT).write_text(to_json(report.to_dict(), "training", indent=2) + "\n")
    return report


def _check_export(path: Path, base: FeatureBase, head, features: np.ndarray, examples: list[Path]) -> float:
    """The exported model's answers against the in-memory head's: on the original examples for a
    model base (the whole chain), on the features for a head-only export."""
    from edgetm.model.load import load_model

    model = load_model(path)
    if isinstance(base, ModelBase):
        from edgetm.vision.image import read_image
        from edgetm.vision.preprocess import Preprocessor

        preprocessor = Preprocessor(model)
        got = np.concatenate([model.run(preprocessor.prepare(read_image(p)).tensor)[0] for p in examples])
        expected = head(np.stack([base.embed(p) for p in examples]))
    else:
        got = np.concatenate([model.run(row[None].astype(np.float32))[0] for row in features])
        expected = head(features)
    difference = float(np.abs(got.astype(np.float32) - expected).max()) if len(expected) else 0.0
    if difference > EXPORT_TOLERANCE:
        raise ConfigError(f"the exported {path.name} answers up to {difference:.2g} away from the trained head",
                          "this is a bug in edgetm's exporter: please report it with the base model")
    return difference
