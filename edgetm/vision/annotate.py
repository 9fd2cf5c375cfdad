"""Boxes and labels drawn onto a frame, for --save-annotated and MQTT snapshots."""

from __future__ import annotations

import numpy as np

from edgetm.results import Detection

# Distinct colours (BGR), one per class id in turn.
_PALETTE = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
            (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0),
            (147, 69, 52), (255, 115, 100), (236, 24, 0), (255, 56, 132), (133, 0, 82), (255, 56, 203)]


def annotate(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A copy of ``image`` with each detection's box, label and score."""
    import cv2

    out = image.copy()
    thickness = max(1, round(sum(out.shape[:2]) / 600))
    for detection in detections:
        colour = _PALETTE[detection.class_id % len(_PALETTE)]
        x1, y1, x2, y2 = (round(v) for v in detection.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        text = f"{detection.label} {detection.score:.2f}"
        scale = thickness / 3
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thickness - 1))
        top = max(y1 - height - 4, 0)
        cv2.rectangle(out, (x1, top), (x1 + width + 2, top + height + 4), colour, -1)
        cv2.putText(out, text, (x1 + 1, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    max(1, thickness - 1), cv2.LINE_AA)
    return out


def jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
