"""Reading YAML that someone else wrote: scenario files and ``--set`` values.

Scenario files are shared between teammates and come from outside, so reading one must never
crash, hang or eat the machine. :func:`read_yaml` is ``yaml.safe_load`` plus what safe loading
does not promise:

* bytes that are not UTF-8 text (binary, UTF-16, Latin-1) are refused with the line of the first
  bad byte, and a file larger than :data:`MAX_BYTES` is not read at all;
* aliases (``*name``) are refused while the document is composed, before anything could expand
  them: a "billion laughs" file of a few KB would otherwise expand to gigabytes in validation;
* nesting deeper than :data:`MAX_DEPTH` is refused before Python's recursion limit is reached;
* a key repeated in one mapping is refused with both lines (YAML says the second one wins,
  silently);
* dates stay text (``2026-01-01``) so that the schema parses them: an impossible date
  (``2026-13-45``) becomes an error naming its field instead of a ``ValueError`` from the loader.

Every refusal is a :class:`~sim.errors.ScenarioError` naming the file and the line::

    >>> parse_yaml("a: 1\\nb: *x", "plan.yaml")
    Traceback (most recent call last):
    ...
    sim.errors.ScenarioError: plan.yaml:2: YAML aliases (*x) are not allowed; write the value out
    >>> parse_yaml("start: 2026-02-30", "plan.yaml")
    {'start': '2026-02-30'}
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

from sim.errors import ScenarioError

MAX_BYTES = 4 * 2**20  # the shipped scenarios are < 20 KB; a scenario is not a data file
MAX_DEPTH = 64  # the deepest shipped scenario nests 7 levels

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class _Refused(yaml.YAMLError):
    """A document this reader will not build, at ``line`` (1-based)."""

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(f"line {line}: {message}")


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, deep nesting, repeated keys or date objects."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise _Refused(
                event.start_mark.line + 1,
                f"YAML aliases (*{event.anchor}) are not allowed; write the value out",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: the base class says so with its mark
                continue
            if first != line:
                raise _Refused(line, f"duplicate key {key!r} (first at line {first})")
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP, lambda loader, node: loader.construct_scalar(node))


def read_yaml(path: str | Path) -> Any:
    """The data in the YAML file ``path``; :class:`ScenarioError` naming the file otherwise.
    Only a regular file is read, and at most :data:`MAX_BYTES` of it (``extends: /dev/zero``
    would otherwise read forever)."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ScenarioError([f"{path}: not a regular file"])
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc.strerror or exc})"]) from None
    if len(data) > MAX_BYTES:
        raise ScenarioError(
            [f"{path}: larger than {MAX_BYTES // 2**20} MB, too large for a scenario"]
        )
    return parse_yaml(decode_text(data, str(path)), str(path))


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (an optional UTF-8 byte-order mark is dropped), or a :class:`ScenarioError`
    saying what the bytes look like instead."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ScenarioError([f"{source}: the file is {name} text; save it as UTF-8"])
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ScenarioError(
            [f"{source}:{line}: a NUL byte: this is a binary (or UTF-16) file, not UTF-8 text"]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            [
                f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                "save the file as UTF-8"
            ]
        ) from None


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML ``text`` (from ``source``, for messages) with the rules above."""
    try:
        return _load(text, source)
    except _Refused as exc:
        raise ScenarioError([f"{source}:{exc.line}: {exc.message}"]) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:  # e.g. `!!int x`
        raise ScenarioError([f"{source}: not valid YAML ({exc})"]) from None


def parse_value(text: str, source: str) -> Any:
    """A ``--set`` value: YAML (``3``, ``[a, b]``, ``{x: 1}``) under the rules above; text
    that is not YAML at all stays that text."""
    try:
        return _load(text, source)
    except _Refused as exc:
        raise ScenarioError([f"{source}: {exc.message}"]) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        return text


def _load(text: str, source: str) -> Any:
    loader = _Loader(text)
    loader.name = source
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
