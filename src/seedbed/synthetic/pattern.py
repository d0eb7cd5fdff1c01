"""Strings that match a simple regular expression, for ``Matches`` rules nobody wrote values for.

Understands what portable patterns (the same in Python and PostgreSQL) are
made of: literals and escapes, ``.``, classes with ranges (``[a-z0-9_]``,
``[^,]``), ``\\d``/``\\w``/``\\s``, groups with ``|``, and the quantifiers
``? * + {m} {m,} {m,n}``. Anything else (look-arounds, back references)
raises :class:`PatternError`, which names the construct.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

_PRINTABLE = "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
_CLASSES = {"d": string.digits, "w": string.ascii_letters + string.digits + "_", "s": " "}
_UNBOUNDED_EXTRA = 3


class PatternError(ValueError):
    """A pattern construct the sampler does not understand."""


@dataclass(frozen=True)
class _Chars:
    choices: str


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Alt:
    options: tuple[_Seq, ...]


@dataclass(frozen=True)
class _Repeat:
    item: _Node
    low: int
    high: int


_Node = _Chars | _Seq | _Alt | _Repeat


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.at += 1
        return char

    def alternation(self) -> _Alt:
        options = [self.sequence()]
        while self.peek() == "|":
            self.take()
            options.append(self.sequence())
        return _Alt(tuple(options))

    def sequence(self) -> _Seq:
        items: list[_Node] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            if atom is not None:
                items.append(self.quantified(atom))
        return _Seq(tuple(items))

    def atom(self) -> _Node | None:
        char = self.take()
        if char in "^$":
            return None
        if char == "(":
            if self.text.startswith("?:", self.at):
                self.at += 2
            elif self.peek() == "?":
                raise PatternError(f"group construct at {self.at} of {self.text!r}")
            group = self.alternation()
            if self.take() != ")":
                raise PatternError(f"unbalanced parenthesis in {self.text!r}")
            return group
        if char == "[":
            return _Chars(self.char_class())
        if char == "\\":
            return _Chars(self.escape())
        if char == ".":
            return _Chars(string.ascii_letters)
        if char in "*+?{":
            raise PatternError(f"quantifier {char!r} with nothing before it in {self.text!r}")
        return _Chars(char)

    def escape(self) -> str:
        char = self.take()
        if char in _CLASSES:
            return _CLASSES[char]
        if char.isalnum() or not char:
            raise PatternError(f"escape \\{char} in {self.text!r}")
        return char

    def char_class(self) -> str:
        negate = self.peek() == "^"
        if negate:
            self.take()
        chars: list[str] = []
        first = True
        while first or self.peek() != "]":
            first = False
            char = self.take()
            if not char:
                raise PatternError(f"unterminated [ in {self.text!r}")
            if char == "\\":
                chars.append(self.escape())
            elif self.peek() == "-" and self.text[self.at + 1 : self.at + 2] not in ("]", ""):
                self.take()
                end = self.take()
                chars.append("".join(chr(c) for c in range(ord(char), ord(end) + 1)))
            else:
                chars.append(char)
        self.take()
        members = "".join(chars)
        if negate:
            members = "".join(c for c in _PRINTABLE if c not in members)
        return members

    def quantified(self, atom: _Node) -> _Node:
        char = self.peek()
        if char == "?":
            bounds = (0, 1)
        elif char == "*":
            bounds = (0, _UNBOUNDED_EXTRA)
        elif char == "+":
            bounds = (1, 1 + _UNBOUNDED_EXTRA)
        elif char == "{" and (match := re.match(r"\{(\d+)(,(\d*))?\}", self.text[self.at :])):
            low = int(match.group(1))
            high = low if not match.group(2) else int(match.group(3) or low + _UNBOUNDED_EXTRA)
            self.at += match.end() - 1
            bounds = (low, high)
        else:
            return atom
        self.take()
        if self.peek() in ("?", "+"):
            raise PatternError(f"lazy or possessive quantifier in {self.text!r}")
        return _Repeat(atom, *bounds)


def _sample(node: _Node, rnd: random.Random, out: list[str]) -> None:
    if isinstance(node, _Chars):
        out.append(rnd.choice(node.choices))
    elif isinstance(node, _Seq):
        for item in node.items:
            _sample(item, rnd, out)
    elif isinstance(node, _Alt):
        _sample(rnd.choice(node.options), rnd, out)
    else:
        for _ in range(rnd.randint(node.low, node.high)):
            _sample(node.item, rnd, out)


def matching_strings(pattern: str, n: int, seed: int) -> list[str]:
    """``n`` strings that fully match ``pattern``; :class:`PatternError` if it cannot."""
    parser = _Parser(pattern)
    tree = parser.alternation()
    if parser.at < len(pattern):
        raise PatternError(f"unexpected {pattern[parser.at]!r} at {parser.at} of {pattern!r}")
    rnd = random.Random(seed)
    compiled = re.compile(pattern)
    values = []
    for _ in range(n):
        out: list[str] = []
        _sample(tree, rnd, out)
        value = "".join(out)
        if compiled.fullmatch(value) is None:
            raise PatternError(f"made {value!r}, which does not match {pattern!r}")
        values.append(value)
    return values
