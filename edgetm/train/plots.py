"""The training report as pictures, like Teachable Machine's "under the hood" panel: accuracy and
loss per epoch (training and validation) and the confusion matrix. matplotlib is optional (the
``plots`` extra) and imported only here."""

from __future__ import annotations

from pathlib import Path

PLOTS = ("accuracy.png", "loss.png", "confusion.png")


def write_plots(report, folder: Path) -> str | None:
    """Write the PNGs into ``folder``; without matplotlib, the note saying why there are none."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        from matplotlib import pyplot
    except ImportError:
        return "plots not written: matplotlib is not installed (pip install 'edgetm[plots]')"
    epochs = [e.epoch for e in report.epochs]
    for name, key, title in (("accuracy.png", "accuracy", "Accuracy per epoch"), ("loss.png", "loss",
                                                                                   "Loss per epoch")):
        figure, axes = pyplot.subplots(figsize=(6, 4), dpi=100)
        axes.plot(epochs, [getattr(e, key) for e in report.epochs], label="training")
        validation = [getattr(e, f"val_{key}") for e in report.epochs]
        if all(v is not None for v in validation):
            axes.plot(epochs, validation, label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(key)
        axes.set_title(title)
        axes.legend()
        figure.tight_layout()
        figure.savefig(folder / name)
        pyplot.close(figure)
    size = max(4, 0.6 * len(report.labels) + 2)
    figure, axes = pyplot.subplots(figsize=(size, size), dpi=100)
    axes.imshow(report.confusion, cmap="Blues")
    axes.set_xticks(range(len(report.labels)), report.labels, rotation=45, ha="right")
    axes.set_yticks(range(len(report.labels)), report.labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"Confusion matrix ({report.confusion_on} examples)")
    for row, counts in enumerate(report.confusion):
        for column, count in enumerate(counts):
            axes.text(column, row, str(count), ha="center", va="center")
    figure.tight_layout()
    figure.savefig(folder / "confusion.png")
    pyplot.close(figure)
    return None
