"""``edgetm info`` and ``edgetm devices``: what a model is, and what this machine has."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgetm.commands.common import EXIT_USER_ERROR, checked, given, load, preprocess_options
from edgetm.errors import EdgetmError
from edgetm.results import to_json


def info(args: argparse.Namespace) -> int:
    from edgetm.tasks import AUTO, TASKS, StageOptions, build_task, choose
    from edgetm.vision.detect import DetectOptions

    model = load(args)
    info = model.info()
    detect = given(args).get("detect")
    try:
        # What the flags given would run: a layout named makes it a detector, as for edgetm detect.
        task = choose(model, "detect" if detect else AUTO,
                      {"detect": checked(DetectOptions, detect, "options") if detect else None})
        info.update(build_task(model, task, StageOptions(preprocess=preprocess_options(args))).describe())
    except EdgetmError as error:
        if detect or given(args).get("preprocess"):
            raise  # the flags given do not apply to this model: an error, as for the command they come from
        info["runs_as"] = f"not runnable as {' or '.join(TASKS)}: {error}"
    if args.json:
        print(to_json(info, str(model.source), indent=2))
        return 0
    runtime = ", ".join(f"{k} {v}" if k != "backend" else str(v) for k, v in info.items()
                        if k in ("backend", "threads", "spin", "delegate", "providers"))
    print(f"model       {info['source']}")
    print(f"format      {info['format']} ({runtime})")
    print(f"family      {info['family']}")
    print(f"task        {info['task']}")
    for kind in ("inputs", "outputs"):
        for n, tensor in enumerate(info[kind]):
            quant = tensor["quantization"]
            q = f"  scale {quant['scale']} zero point {quant['zero_point']}" if quant else ""
            resolved = f" -> {tensor['resolved_shape']}" if tensor["shape"] != tensor["resolved_shape"] else ""
            print(f"{kind[:-1]:6s} {n}    {tensor['name']}  {tensor['dtype']} {tensor['shape']}{resolved}{q}")
    if "sound" in info:
        sound = info["sound"]
        background = f"; no event: {', '.join(sound['background'])}" if sound["background"] else ""
        print(f"sound       {sound['rate']} Hz {sound['input']}, windows of {sound['window_samples']} samples every "
              f"{sound['hop_samples']}{background}")
    if "preprocess" in info and "features" in info["preprocess"]:
        p = info["preprocess"]
        print(f"preprocess  edgetm's {p['features']} descriptor ({p['values']} values, from the picture at "
              f"{p['size'][0]}x{p['size'][1]})")
    elif "preprocess" in info:
        p = info["preprocess"]
        norm = p["normalize"] if isinstance(p["normalize"], str) else f"mean {p['normalize']['mean']} " \
            f"std {p['normalize']['std']}"
        placement = f" {p['letterbox']}, grey {p['pad_value']}" if "letterbox" in p else ""
        print(f"preprocess  {p['size'][0]}x{p['size'][1]} {p['layout']} {p['color']}, {p['resize']}{placement} "
              f"({p['interpolation']}), {norm}")
        if "still_interpolation" in p:
            print(f"            edgetm classify (still images): {p['still_interpolation']}, the exporter's own "
                  f"resampling; edgetm run: {p['interpolation']}, the fast path")
    if "runs_as" in info:
        print(f"runs as     {info['runs_as']}")
    if "layout" in info:
        print(f"layout      {info['layout']}")
    if "rect" in info:
        print(f"rect        {info['rect']}")
    if "pose" in info:
        pose = info["pose"]
        details = [f"{key} {Path(str(value)).name if key == 'landmarks' else value}" for key, value in pose.items()
                   if key != "estimator"]
        print(f"pose        {pose['estimator']}{': ' if details else ''}{', '.join(details)}")
    labels = info["labels"]
    if labels["count"]:
        more = ", ..." if labels["count"] > len(labels["first"]) else ""
        print(f"labels      {labels['count']} from {labels['source']}: {', '.join(labels['first'])}{more}")
    elif "pose" not in info:  # a pose model's keypoints are named by its skeleton
        print("labels      none (indices are shown; pass --labels FILE)")
    return 0



def devices(args: argparse.Namespace) -> int:
    """Cameras (V4L2) and audio inputs, each said to be missing when it is."""
    from edgetm.capture.camera import PICAMERA_HINT, video_devices

    cameras = video_devices()
    print("cameras")
    if not cameras:
        print(f"  none (no /dev/video* device: plug in a USB camera; {PICAMERA_HINT})")
    for device in cameras:
        name_file = Path("/sys/class/video4linux") / device.name / "name"
        name = name_file.read_text(errors="replace").strip() if name_file.is_file() else "?"
        print(f"  {device}  {name}  (source: camera:{device.name.removeprefix('video')})")
    print("audio inputs")
    try:
        from edgetm.capture.microphone import input_devices

        inputs = input_devices()
    except EdgetmError as error:
        print(f"  unknown: {error}")
        return EXIT_USER_ERROR
    if not inputs:
        print("  none (no input PortAudio can open: plug in a microphone)")
    for device in inputs:
        print(f"  {device['index']:3d}  {device['name']}  {device['default_rate']} Hz, {device['channels']} "
              f"channel{'s' if device['channels'] > 1 else ''}  (source: mic:{device['index']})")
    return 0
