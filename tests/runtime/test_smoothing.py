import pytest

from edgetm.options import ValidationError
from edgetm.tasks.smoothing import LabelSmoother, SmoothingMode, SmoothingOptions


def feed(smoother: LabelSmoother, sequence: list[dict[str, float]]) -> list[str | None]:
    """The label after each result."""
    out = []
    for scores in sequence:
        smoother.update(scores)
        out.append(smoother.label)
    return out


RIPE = {"ripe": 0.9, "unripe": 0.1}
UNRIPE = {"unripe": 0.9, "ripe": 0.1}


def test_a_label_must_hold_k_results():
    smoother = LabelSmoother(SmoothingOptions(k=3, threshold=0.5))
    assert feed(smoother, [RIPE, RIPE, RIPE, UNRIPE, UNRIPE, RIPE, UNRIPE, UNRIPE, UNRIPE]) == [
        None, None, "ripe", "ripe", "ripe", "ripe", "ripe", "ripe", "unripe"]


def test_update_reports_changes_only():
    smoother = LabelSmoother(SmoothingOptions(k=2, threshold=0.5))
    assert [smoother.update(s) for s in (RIPE, RIPE, RIPE, UNRIPE, UNRIPE, UNRIPE)] == [
        False, True, False, False, True, False]


def test_hysteresis_keeps_the_current_label():
    smoother = LabelSmoother(SmoothingOptions(k=2, hysteresis=0.15, threshold=0.6))
    feed(smoother, [RIPE, RIPE])
    # ripe falls to 0.5: below the threshold but above 0.6 - 0.15, so it holds even against unripe at 0.5.
    wobbling = {"ripe": 0.5, "unripe": 0.5}
    assert feed(smoother, [wobbling] * 5) == ["ripe"] * 5
    # Below the exit line, nothing enters either: "none" takes over after k results.
    low = {"ripe": 0.4, "unripe": 0.3}
    assert feed(smoother, [low, low, low]) == ["ripe", "none", "none"]
    assert feed(smoother, [UNRIPE, UNRIPE]) == ["none", "unripe"]


def test_none_label_and_threshold_changes():
    smoother = LabelSmoother(SmoothingOptions(k=1, hysteresis=0.0, none_label="nothing", threshold=0.95))
    assert feed(smoother, [RIPE]) == ["nothing"]
    smoother.threshold = 0.5
    assert feed(smoother, [RIPE]) == ["ripe"]


def test_moving_average():
    smoother = LabelSmoother(SmoothingOptions(mode=SmoothingMode.AVERAGE, window=4, hysteresis=0.0, threshold=0.5))
    # One odd frame inside a ripe run does not flip the average.
    labels = feed(smoother, [RIPE, RIPE, UNRIPE, RIPE, UNRIPE, UNRIPE, UNRIPE])
    assert labels[:5] == ["ripe"] * 5
    assert labels[-1] == "unripe"


def test_off_follows_every_result():
    smoother = LabelSmoother(SmoothingOptions(mode=SmoothingMode.OFF, threshold=0.5))
    assert feed(smoother, [RIPE, UNRIPE, RIPE, {"ripe": 0.2}]) == ["ripe", "unripe", "ripe", "none"]


@pytest.mark.parametrize(("given", "unread"), [
    ({"mode": "average", "k": 5}, "k does nothing in average mode"),
    ({"mode": "off", "k": 5}, "k does nothing in off mode"),
    ({"window": 8}, "window does nothing in consecutive mode"),
    ({"mode": "off", "window": 8, "hysteresis": 0.2}, "window and hysteresis do nothing in off mode"),
])
def test_a_setting_its_mode_never_reads_is_refused(given, unread):
    with pytest.raises(ValidationError, match=unread):
        SmoothingOptions.model_validate(given)


def test_a_default_value_left_beside_another_mode_is_accepted():
    # The example file spells out k: 3 and hysteresis: 0.1; changing only its mode must still load.
    options = SmoothingOptions.model_validate({"mode": "off", "k": 3, "window": 5, "hysteresis": 0.1})
    assert options.mode is SmoothingMode.OFF


def test_a_bare_yaml_off_is_the_off_mode():
    import yaml

    # YAML 1.1 reads ``mode: off`` as false; the file means the mode.
    data = yaml.safe_load("mode: off\n")
    assert data == {"mode": False}
    assert SmoothingOptions.model_validate(data).mode is SmoothingMode.OFF
