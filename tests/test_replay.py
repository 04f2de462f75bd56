"""Record-and-replay (`grader.replay`): the reference fed the student's own upstream values gives what
a right item gives for them, and nothing else does: other arguments, other calls, another state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from grader import codec, replay


class StudentNet:
    """A right network on a wrong layer (it triples where the reference doubles)."""

    def __init__(self) -> None:
        self.params = {"w": np.array([1.0, -2.0, 0.5])}

    def layer(self, x: np.ndarray) -> np.ndarray:
        return x * 3

    def loss(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        out = self.layer(x * self.params["w"])
        return float(out.sum()) + 1.0, out


class ReferenceNet(StudentNet):
    def layer(self, x: np.ndarray) -> np.ndarray:
        return x * 2


def _recorded(cls: type, call: Callable[[Any], Any]) -> tuple[Any, Any]:
    """What `call(instance)` gives with cls.layer recorded, and the recording as it travels."""
    recorder = replay.Recorder()
    original = cls.__dict__["layer"]
    cls.layer = recorder.wrap(original, "net:Net.layer")  # type: ignore[attr-defined]
    try:
        result = call(cls())
    finally:
        cls.layer = original  # type: ignore[attr-defined]
    recording = recorder.recording()
    assert recording is not None
    return result, codec.loads(codec.dumps(recording), 1 << 20)


def _replayed(cls: type, recording: Any, call: Callable[[Any], Any]) -> Any:
    replayer = replay.Replayer(recording)
    original = cls.__dict__["layer"]
    cls.layer = replayer.wrap(original, "net:Net.layer")  # type: ignore[attr-defined]
    try:
        result = call(cls())
    finally:
        cls.layer = original  # type: ignore[attr-defined]
    replayer.finish()
    return result


X = np.array([0.5, 1.0, -1.5])


def test_the_reference_fed_the_students_layer_gives_what_the_students_right_network_gives() -> None:
    student, recording = _recorded(StudentNet, lambda net: net.loss(X))
    reference_alone = ReferenceNet().loss(X)
    fed = _replayed(ReferenceNet, recording, lambda net: net.loss(X))
    assert not np.isclose(student[0], reference_alone[0])  # the layer's bug shows downstream
    assert fed[0] == pytest.approx(student[0]) and np.allclose(fed[1], student[1])
    assert isinstance(fed[0], float)  # a scalar travels as a scalar, not as an array of shape (1,)


def test_a_network_that_passes_other_arguments_diverges() -> None:
    class Scaled(StudentNet):
        def layer(self, x: np.ndarray) -> np.ndarray:
            return x * 3

        def loss(self, x: np.ndarray) -> tuple[float, np.ndarray]:
            out = self.layer(x * self.params["w"] * 1.5)  # its own bug, on top of the layer's
            return float(out.sum()) + 1.0, out

    _, recording = _recorded(Scaled, lambda net: net.loss(X))
    with pytest.raises(replay.Diverged, match=r"arguments\.x differs"):
        _replayed(ReferenceNet, recording, lambda net: net.loss(X))


def test_another_state_or_another_number_of_calls_diverges() -> None:
    _, recording = _recorded(StudentNet, lambda net: net.loss(X))
    recording[0]["state"]["w"] = recording[0]["state"]["w"] + 1.0  # parameters the reference never had
    with pytest.raises(replay.Diverged, match=r"params\.w differs"):
        _replayed(ReferenceNet, recording, lambda net: net.loss(X))

    _, twice = _recorded(StudentNet, lambda net: (net.loss(X), net.loss(X)))
    with pytest.raises(replay.Diverged, match="made 2 recorded calls, the reference 1"):
        _replayed(ReferenceNet, twice, lambda net: net.loss(X))
    _, once = _recorded(StudentNet, lambda net: net.loss(X))
    with pytest.raises(replay.Diverged, match="more often"):
        _replayed(ReferenceNet, once, lambda net: (net.loss(X), net.loss(X)))


def test_what_a_call_changes_in_its_arguments_and_its_instance_is_changed_again() -> None:
    """A batch norm's running averages (a dict argument) and a layer's cache (an attribute) are
    what later calls read: the replay sets them as the student's call did."""

    class Layer:
        def __init__(self) -> None:
            self.cache: np.ndarray | None = None

        def layer(self, x: np.ndarray, bn_param: dict[str, Any]) -> np.ndarray:
            bn_param["running_mean"] = 0.5 * bn_param["running_mean"] + 0.5 * x.mean()
            self.cache = x * 10  # wrong, as the student's is
            return x

    class ReferenceLayer(Layer):
        def layer(self, x: np.ndarray, bn_param: dict[str, Any]) -> np.ndarray:
            raise AssertionError("replayed, never run")

    def call(layer: Any) -> tuple[Any, Any]:
        bn_param = {"running_mean": 0.0}
        layer.layer(X, bn_param)
        return bn_param["running_mean"], layer.cache

    student, recording = _recorded(Layer, call)
    fed = _replayed(ReferenceLayer, recording, call)
    assert fed[0] == pytest.approx(student[0]) and np.array_equal(fed[1], student[1])


def test_a_cache_that_is_the_call_s_own_argument_is_recorded_by_its_name() -> None:
    """A layer that keeps its input (`self.x = x`) for backward: a training run makes hundreds of
    such calls, whose caches filled the recording past its limit. The reference's layer gets the
    argument the reference passed, which equals the student's within rounding."""

    class Layer:
        def layer(self, x: np.ndarray) -> np.ndarray:
            self.x = x
            return 2 * x

    class ReferenceLayer(Layer):
        def layer(self, x: np.ndarray) -> np.ndarray:
            raise AssertionError("replayed, never run")

    big = np.arange(200.0).reshape(20, 10)

    def call(layer: Any) -> tuple[Any, Any]:
        out = layer.layer(big.copy())
        return out, layer.x

    student, recording = _recorded(Layer, call)
    assert recording[0]["set"] == {"x": {replay.ARGUMENT: "x"}}
    fed = _replayed(ReferenceLayer, recording, call)
    assert np.array_equal(fed[0], student[0]) and np.array_equal(fed[1], big)


def test_a_value_that_cannot_be_copied_leaves_no_recording_and_the_call_unchanged() -> None:
    class Odd(StudentNet):
        def loss(self, x: np.ndarray) -> tuple[float, np.ndarray]:
            out = self.layer(v for v in x)
            return float(sum(out)), np.asarray(out)

        def layer(self, x: Any) -> Any:
            return [v * 3 for v in x]

    recorder = replay.Recorder()
    Odd.layer = recorder.wrap(Odd.__dict__["layer"], "net:Net.layer")  # type: ignore[method-assign]
    assert Odd().loss(X)[0] == pytest.approx(float(X.sum()) * 3)
    assert recorder.recording() is None


@pytest.mark.parametrize(
    ("recorded", "passed", "same"),
    [
        (0, 0.0, True),
        (1e-3, 1e-3 * (1 + 1e-9), True),
        (1e-3, 1.1e-3, False),
        (np.ones((2, 3)), np.ones((3, 2)), False),
        ({"mode": "train", "p": 0.5}, {"mode": "train", "p": 0.5}, True),
        ({"mode": "train"}, {"mode": "train", "eps": 1e-5}, False),
        ((np.zeros(2), [1, 2]), [np.zeros(2), (1, 2)], True),
        ("train", "test", False),
    ],
)
def test_arguments_are_the_same_within_rounding_and_only_so(recorded: Any, passed: Any, same: bool) -> None:
    assert (replay.differs(recorded, passed, "x") == "") is same


def test_parameters_updated_in_place_between_calls_are_recorded_as_each_call_saw_them() -> None:
    def train(net: Any) -> float:
        first, _ = net.loss(X)
        net.params["w"] -= 0.1  # an SGD step, in place, as most students write it
        second, _ = net.loss(X)
        return float(first + second)

    student, recording = _recorded(StudentNet, train)
    assert _replayed(ReferenceNet, recording, train) == pytest.approx(student)
