"""Connecting to a Ray cluster: through Ray Client, a connection whose own server died at birth on the head (Ray's
race, ray-project/ray#63202) is tried again, at most `CLIENT_ATTEMPTS` times; every other failure is one clear error
at once. A stand-in for the `ray` module plays the head's answers (the real cluster's path is
tests/integration/test_ray_cluster.py, which met this race in CI)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from studio import ray_render
from studio.errors import ConfigError

DIED = ConnectionAbortedError(
    "Initialization failure from server:\nTraceback (most recent call last):\n  ...\n"
    "psutil.ZombieProcess: PID still exists but it's a zombie (pid=29217)"
)


class Head:
    """What `ray.init` meets: each call takes the next answer (an exception raised, or None: connected)."""

    def __init__(self, *answers: BaseException | None) -> None:
        self.answers = list(answers)
        self.inits: list[str] = []
        self.shutdowns = 0
        self.connected = False

    def is_initialized(self) -> bool:
        return self.connected

    def init(self, address: str, **_: Any) -> None:
        self.inits.append(address)
        answer = self.answers.pop(0)
        if answer is not None:
            raise answer
        self.connected = True

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.fixture
def head(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(*answers: BaseException | None) -> Head:
        fake = Head(*answers)
        monkeypatch.setattr(ray_render, "import_ray", lambda: fake)
        return fake

    return install


def test_a_client_server_that_died_at_birth_is_tried_again_and_the_warning_says_why(
    head: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake = head(DIED, RuntimeError("Starting Ray client server failed. See ray_client_server_23000.err"), None)
    with caplog.at_level(logging.WARNING, logger=ray_render.__name__):
        ray, connected = ray_render._connect("ray://127.0.0.1:10001")
    assert (ray, connected) == (fake, True)
    assert fake.inits == ["ray://127.0.0.1:10001"] * 3 and fake.shutdowns == 2
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2 and "attempt 1 of 3" in warnings[0] and "ray-project/ray#63202" in warnings[0]


def test_the_attempts_are_bounded_and_the_last_error_is_the_one_reported(head: Any) -> None:
    fake = head(DIED, DIED, DIED, None)
    with pytest.raises(ConfigError, match=r"^no Ray cluster at ray://h:10001: Initialization failure from server"):
        ray_render._connect("ray://h:10001")
    assert len(fake.inits) == ray_render.CLIENT_ATTEMPTS == 3


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("ray://h:10001", ConnectionError("ray client connection timeout")),  # nothing answers: no second wait
        ("ray://h:10001", ValueError("Ray Client requires the same Python minor version")),
        ("auto", RuntimeError("Starting Ray client server failed")),  # not through Ray Client: not this race
    ],
)
def test_any_other_failure_is_one_error_at_once(head: Any, address: str, error: BaseException) -> None:
    fake = head(error, None)
    with pytest.raises(ConfigError, match=f"^no Ray cluster at {address}: "):
        ray_render._connect(address)
    assert len(fake.inits) == 1 and fake.shutdowns == 0
