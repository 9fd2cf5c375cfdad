from edgetm.results import Detection
from edgetm.tasks.smoothing import CountSmoother, SmoothingMode, SmoothingOptions
from edgetm.vision.detect import Zone


def feed(smoother: CountSmoother, sequence: list[dict[str, int]]) -> list[dict[str, int]]:
    return [smoother.update(counts) for counts in sequence]


def test_counts_change_after_k_results():
    smoother = CountSmoother(SmoothingOptions(k=2))
    changes = feed(smoother, [{"person": 2}, {"person": 2}, {"person": 3}, {"person": 2}, {"person": 3},
                              {"person": 3}, {}, {}])
    assert changes == [{}, {"person": 2}, {}, {}, {}, {"person": 3}, {}, {"person": 0}]
    assert smoother.counts == {"person": 0}


def test_counted_classes_start_at_zero():
    smoother = CountSmoother(SmoothingOptions(k=1), ["car", "bus"])
    assert smoother.update({"car": 1}) == {"car": 1, "bus": 0}


def test_average_and_off():
    average = CountSmoother(SmoothingOptions(mode=SmoothingMode.AVERAGE, window=4))
    changes = feed(average, [{"car": 4}, {"car": 0}, {"car": 4}, {"car": 4}])
    assert changes == [{"car": 4}, {"car": 2}, {"car": 3}, {}]
    off = CountSmoother(SmoothingOptions(mode=SmoothingMode.OFF))
    assert feed(off, [{"car": 1}, {"car": 2}, {"car": 2}]) == [{"car": 1}, {"car": 2}, {}]


def box_at(x: float, y: float) -> Detection:
    return Detection("thing", 0, 0.9, (x - 5, y - 5, x + 5, y + 5))


def test_zone_by_box_centre():
    zone = Zone([(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)])  # the left half
    detections = [box_at(10, 10), box_at(90, 50), box_at(49, 99), box_at(51, 1)]
    assert zone.contains(detections, (100, 100)) == [True, False, True, False]
    triangle = Zone([(0, 0), (100, 0), (0, 100)], fractions=False)
    assert triangle.contains([box_at(20, 20), box_at(80, 80)], (640, 480)) == [True, False]
    assert zone.contains([], (100, 100)) == []
