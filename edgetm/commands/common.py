"""What every subcommand's handler shares: the flags given, options checked by their model, the model loaded."""

from __future__ import annotations

import argparse

EXIT_USER_ERROR = 1


def given(args: argparse.Namespace) -> dict:
    """The flags a user gave, nested by their dotted destinations: ``{"smoothing": {"k": 5}}``."""
    nested: dict = {}
    for dest, value in vars(args).items():
        if "." not in dest:
            continue
        *parents, last = dest.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return nested


def checked(model: type, data: dict | None, what: str):
    """Options from the flags given for them, checked by their model (errors name the key)."""
    from edgetm.errors import from_validation
    from edgetm.options import ValidationError

    try:
        return model.model_validate(data or {})
    except ValidationError as error:
        raise from_validation(error, what) from None


def model_options(args: argparse.Namespace):
    from edgetm.model import ModelOptions

    return checked(ModelOptions, {"path": args.model, **given(args).get("model", {})}, "options")


def load(args: argparse.Namespace):
    from edgetm.model import load_model

    return load_model(model_options(args))


def preprocess_options(args: argparse.Namespace):
    from edgetm.vision.preprocess import PreprocessOptions

    return checked(PreprocessOptions, given(args).get("preprocess"), "preprocessing options")


