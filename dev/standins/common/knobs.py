"""Knobs: command-line flags, each also an environment variable `STANDIN_<NAME>`, changeable at runtime.

Precedence: flag, then environment variable, then default. `/_emulator/config` changes runtime knobs;
`/_emulator/reset` restores the values the server was started with.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dev.standins import guesses

ENV_PREFIX = "STANDIN_"


@dataclass(frozen=True)
class Knob:
    name: str  # snake_case; the flag is --kebab-case, the env var STANDIN_UPPER_CASE
    kind: type  # int, float, str or bool
    default: Any
    help: str
    runtime: bool = True  # changeable through /_emulator/config
    secret: bool = False  # never echoed by the emulator endpoints
    choices: tuple[str, ...] | None = None  # the only values a str knob accepts

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


COMMON_KNOBS: tuple[Knob, ...] = (
    Knob("host", str, "127.0.0.1", "address to listen on", runtime=False),
    Knob("port", int, 8000, "port to listen on", runtime=False),
    Knob("public_url", str, "", "base URL used in redirects (default http://HOST:PORT)", runtime=False),
    Knob("seed", int, 0, "seed of every random choice (faults, ids, secrets, angles, quality)"),
    Knob("latency_ms", float, 0.0, "added latency of every API request, in milliseconds"),
    Knob("concurrency_cap", int, 0, "API requests in flight beyond this answer 429 (0 = no cap)"),
    Knob("error_5xx_ratio", float, 0.0, "share of API requests answered with a server error before processing"),
    Knob("drop_ratio", float, 0.0, "share of API requests whose connection is closed without an answer"),
    Knob(
        "lost_response_ratio",
        float,
        0.0,
        "share of API requests that are processed but whose connection is closed before the answer",
    ),
    Knob("credits", int, guesses.DEFAULT_CREDITS, "starting credits (setting it at runtime also sets the balance)"),
    Knob("fast", bool, False, "skip heavy image work (cheap stand-in results) for benchmarks"),
    Knob(
        "strict_accept",
        bool,
        False,
        "answer 406 when a call that returns a file is made with an Accept header that does not admit its type",
    ),
)


def _coerce(knob: Knob, value: Any) -> Any:
    if knob.kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{knob.name}: not a boolean: {value!r}")
    if knob.kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{knob.name}: not an integer: {value!r}")
    try:
        coerced = knob.kind(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{knob.name}: expected {knob.kind.__name__}, got {value!r}") from error
    if knob.choices is not None and coerced not in knob.choices:
        raise ValueError(f"{knob.name}: must be one of {', '.join(knob.choices)}, got {value!r}")
    if knob.name.endswith("_ratio") and not 0.0 <= coerced <= 1.0:
        raise ValueError(f"{knob.name}: must be between 0 and 1")
    if knob.kind in (int, float) and coerced < 0 and knob.name != "seed":
        raise ValueError(f"{knob.name}: must not be negative")
    return coerced


class Knobs:
    """Current knob values, read as attributes (`knobs.latency_ms`)."""

    def __init__(self, specs: Iterable[Knob], values: Mapping[str, Any]):
        self._specs = {knob.name: knob for knob in specs}
        self._started_with = {name: _coerce(self._specs[name], value) for name, value in values.items()}
        self._values = dict(self._started_with)
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def on_change(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener(changed_values)` after every runtime change and after a reset."""
        self._listeners.append(listener)

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Validate every change first, then apply all of them; raise ValueError naming the bad ones."""
        unknown = [name for name in changes if name not in self._specs or not self._specs[name].runtime]
        if unknown:
            raise ValueError(f"unknown or startup-only knobs: {', '.join(sorted(unknown))}")
        coerced = {name: _coerce(self._specs[name], value) for name, value in changes.items()}
        self._values.update(coerced)
        self._notify(coerced)
        return coerced

    def count_down(self, name: str) -> bool:
        """Use up one of a counting knob (e.g. "refuse the next N requests"): False once it is at 0."""
        if self._values[name] <= 0:
            return False
        self._values[name] -= 1
        return True

    def restore(self) -> None:
        self._values = dict(self._started_with)
        self._notify(dict(self._values))

    def public(self) -> dict[str, Any]:
        """Every value except secrets, for the emulator endpoints."""
        return {name: value for name, value in self._values.items() if not self._specs[name].secret}

    def _notify(self, changed: dict[str, Any]) -> None:
        for listener in self._listeners:
            listener(changed)


def parse_knobs(prog: str, description: str, specs: Iterable[Knob], argv: list[str] | None = None) -> Knobs:
    """Read flags and `STANDIN_*` environment variables into Knobs."""
    specs = tuple(specs)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for knob in specs:
        env_value = os.environ.get(knob.env_var)
        try:
            default = knob.default if env_value is None else _coerce(knob, env_value)
        except ValueError as error:
            parser.error(f"{knob.env_var}: {error}")
        help_text = f"{knob.help} [env {knob.env_var}; default {knob.default!r}]"
        if knob.kind is bool:
            parser.add_argument(knob.flag, dest=knob.name, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)  # fmt: skip
        else:
            parser.add_argument(
                knob.flag, dest=knob.name, type=knob.kind, default=default, choices=knob.choices, help=help_text
            )
    namespace = parser.parse_args(argv)
    try:
        return Knobs(specs, vars(namespace))
    except ValueError as error:
        parser.error(str(error))
        raise  # unreachable: parser.error exits
