"""``edgetm collect`` and ``edgetm train``: examples from a source, and a head trained on them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgetm.commands.common import EXIT_USER_ERROR, checked, given
from edgetm.commands.progress import Progress
from edgetm.errors import ConfigError
from edgetm.results import to_json


def collect(args: argparse.Namespace) -> int:
    from edgetm.train.collect import CollectOptions
    from edgetm.train.collect import collect as run_collect

    options = checked(CollectOptions, given(args).get("collect"), "options")
    result = run_collect(args.source, args.label, args.out, options, Progress("saved"))
    skipped = f", {result.skipped} frames without a person skipped" if result.skipped else ""
    print(f"saved {len(result.saved)} example{'' if len(result.saved) == 1 else 's'} into {result.folder}{skipped}")
    if result.ended and len(result.saved) < options.count:
        print(f"edgetm: the source ended after {len(result.saved)} of {options.count} examples", file=sys.stderr)
        return EXIT_USER_ERROR if not result.saved else 0
    return 0


def train(args: argparse.Namespace) -> int:
    from edgetm.train.retrain import TrainOptions
    from edgetm.train.retrain import train as run_training

    options = checked(TrainOptions, given(args).get("train"), "options")
    swap_flags = [f"--{name.replace('_', '-')}" for name in ("device_id", "password_env", "password_file")
                  if getattr(args, name)] + [f"--{n}" for n, default in (("pipeline", "default"), ("prefix", "edgetm"))
                                             if getattr(args, n) != default]
    if swap_flags and not args.swap_into:
        raise ConfigError(f"{', '.join(swap_flags)} without --swap-into would be ignored", "add --swap-into URL")
    examples, epochs = Progress("features"), Progress("training")

    def epoch_done(epoch) -> None:
        val = f" val loss {epoch.val_loss:.4f} accuracy {epoch.val_accuracy:.3f}" if epoch.val_loss is not None else ""
        epochs(epoch.epoch, options.epochs, f"loss {epoch.loss:.4f} accuracy {epoch.accuracy:.3f}{val}")

    if args.swap_into:
        from edgetm.train.swap import broker_settings

        broker_settings(args.swap_into, args.password_env, args.password_file)  # mistakes there cost no training
    report = run_training(args.data, args.out, options, epoch_done, examples)
    if args.json:
        print(to_json(report.to_dict(), "training"))
        return 0
    print(f"base        {report.base}")
    print(f"examples    {report.train_examples} training, {report.val_examples} validation "
          f"({report.cached} features from the cache)")
    stopped = f", stopped early at epoch {len(report.epochs)}" if report.stopped_early else ""
    print(f"accuracy    training {report.accuracy['train']:.3f}" +
          (f", validation {report.accuracy['val']:.3f}" if report.accuracy["val"] is not None else "") +
          f" (best epoch {report.best_epoch}{stopped})")
    width = max(len(label) for label in report.labels)
    print(f"confusion   on the {report.confusion_on} examples (rows: true, columns: predicted)")
    for label, row in zip(report.labels, report.confusion, strict=True):
        accuracy = report.per_class[label]
        shown = f"{accuracy:.3f}" if accuracy is not None else "  -  "
        print(f"    {label:{width}s}  {' '.join(f'{v:4d}' for v in row)}   {shown}")
    for note in report.notes:
        print(f"note        {note}")
    from edgetm.train.plots import PLOTS

    drawn = [name for name in PLOTS if (Path(args.out) / name).is_file()]
    print(f"wrote       {report.model}, labels.txt, report.json{''.join(', ' + name for name in drawn)}")
    out = Path(args.out)
    use = f"edgetm pose POSE_MODEL IMAGES --classifier {report.model}" if report.base.startswith("builtin pose") \
        else f"edgetm listen {out} --source mic" if report.base.startswith("builtin log-mel") \
        else f"edgetm classify {out} IMAGES"
    print(f"use it      {use}")
    if args.swap_into:
        from edgetm.config import default_device_id
        from edgetm.train.swap import swap_into

        device = args.device_id or default_device_id()
        try:
            running = swap_into(args.swap_into, device, args.pipeline, Path(args.out), args.prefix,
                                args.password_env, args.password_file)
        except ConfigError as error:
            raise ConfigError(error.message, f"{error.hint + '; ' if error.hint else ''}the model is written: to "
                              f"try again, publish {{\"model\": \"{Path(args.out).resolve()}\"}} to "
                              f"{args.prefix}/{device}/{args.pipeline}/set") from None
        print(f"swapped     {device}/{args.pipeline} now runs {running}")
    return 0


