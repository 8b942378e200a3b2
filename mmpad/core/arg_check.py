"""Checks of constructor arguments: one error type, one message shape.

Every mmpad module constructor (transforms, datasets, the adapter, the PAD
wrapper, hooks) checks its arguments with these functions, so a wrong type or a
value out of range fails when the config is built, with::

    InvalidArgumentError: ObjectSensitiveRandomRoICrop: argument min_size=-5 is
    invalid: expected an int >= 1

naming the owner, the argument, its value and what is allowed. The error is both a
``ValueError`` and a ``TypeError``, so callers that catch either keep working.

Booleans are not accepted where a number is expected (``True`` is an ``int`` in
Python, but ``min_size=True`` is a mistake), strings are not accepted where a
sequence is expected (``'abc'`` is a sequence of three strings), and NaN is in no
range.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Optional, Sequence, Tuple


class InvalidArgumentError(ValueError, TypeError):
    """A constructor argument of the wrong type or out of range; the message names
    the owner, the argument, its value and what is allowed."""

    def __init__(self, owner: str, name: str, value: Any, allowed: str) -> None:
        self.owner, self.name, self.value, self.allowed = owner, name, value, allowed
        text = repr(value)
        if len(text) > 200:
            text = text[:200] + '...'
        super().__init__(f'{owner}: argument {name}={text} is invalid: expected '
                         f'{allowed}')

    def __reduce__(self):
        return type(self), (self.owner, self.name, self.value, self.allowed)


def arg_error(owner: str, name: str, value: Any, allowed: str) -> InvalidArgumentError:
    """The error to raise (for checks not covered below)."""
    return InvalidArgumentError(owner, name, value, allowed)


def _range_text(lo, hi, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f'in {"(" if lo_open else "["}{lo}, {hi}{")" if hi_open else "]"}'
    if lo is not None:
        return f'{">" if lo_open else ">="} {lo}'
    if hi is not None:
        return f'{"<" if hi_open else "<="} {hi}'
    return ''


def _in_range(v, lo, hi, lo_open, hi_open) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    if hi is not None and (v >= hi if hi_open else v > hi):
        return False
    return True


def is_int(value: Any) -> bool:
    """An integer that is not a bool (Python and numpy integers)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and \
        type(value).__name__ != 'bool_'


def is_real(value: Any) -> bool:
    """A real number that is not a bool (int, float, numpy scalars)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        type(value).__name__ != 'bool_'


def check_int(owner: str, name: str, value: Any, lo: Optional[int] = None,
              hi: Optional[int] = None, allow_none: bool = False) -> Optional[int]:
    """``value`` as an ``int`` in ``[lo, hi]`` (``None`` if ``allow_none``)."""
    if value is None and allow_none:
        return None
    rng = _range_text(lo, hi, False, False)
    allowed = f'an int {rng}'.strip() + (' or None' if allow_none else '')
    if not is_int(value) or not _in_range(int(value), lo, hi, False, False):
        raise InvalidArgumentError(owner, name, value, allowed)
    return int(value)


def check_float(owner: str, name: str, value: Any, lo: Optional[float] = None,
                hi: Optional[float] = None, lo_open: bool = False,
                hi_open: bool = False, allow_none: bool = False) -> Optional[float]:
    """``value`` as a finite ``float`` in the given range (ints accepted)."""
    if value is None and allow_none:
        return None
    rng = _range_text(lo, hi, lo_open, hi_open)
    allowed = f'a number {rng}'.strip() + (' or None' if allow_none else '')
    if not is_real(value):
        raise InvalidArgumentError(owner, name, value, allowed)
    v = float(value)
    if not math.isfinite(v) or not _in_range(v, lo, hi, lo_open, hi_open):
        raise InvalidArgumentError(owner, name, value, allowed)
    return v


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``True`` or ``False`` (numpy booleans accepted; ``0`` / ``'yes'`` are not)."""
    if isinstance(value, bool) or type(value).__name__ == 'bool_':
        return bool(value)
    raise InvalidArgumentError(owner, name, value, 'True or False')


def check_choice(owner: str, name: str, value: Any, choices: Iterable) -> Any:
    """One of ``choices``."""
    choices = tuple(choices)
    try:
        ok = value in choices and type(value) in {type(c) for c in choices}
    except TypeError:  # unhashable / uncomparable
        ok = False
    if not ok:
        names = [repr(c) for c in choices]
        allowed = ' or '.join(names) if len(names) <= 2 else \
            f'one of {", ".join(names)}'
        raise InvalidArgumentError(owner, name, value, allowed)
    return value


def check_str(owner: str, name: str, value: Any, allow_none: bool = False,
              allow_empty: bool = True) -> Optional[str]:
    """A string (``None`` if ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or (not allow_empty and not value):
        raise InvalidArgumentError(
            owner, name, value, ('a non-empty string' if not allow_empty else
                                 'a string') + (' or None' if allow_none else ''))
    return value


def check_str_list(owner: str, name: str, value: Any,
                   allow_none: bool = False) -> Optional[list]:
    """A list / tuple of strings (a single string is refused: it would be read as
    a sequence of characters)."""
    if value is None and allow_none:
        return None
    allowed = 'a list of strings' + (' or None' if allow_none else '')
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or \
            not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(owner, name, value, allowed)
    return list(value)


def check_pair(owner: str, name: str, value: Any, lo: Optional[float] = None,
               hi: Optional[float] = None, lo_open: bool = False,
               hi_open: bool = False, ordered: bool = True,
               integer: bool = False) -> Tuple:
    """A ``(a, b)`` pair of numbers, each in the range, ``a <= b`` if ``ordered``
    (ints only with ``integer``)."""
    rng = _range_text(lo, hi, lo_open, hi_open)
    kind = 'ints' if integer else 'numbers'
    allowed = f'a pair of {kind}' + (f' {rng}' if rng else '') + \
        (' with first <= second' if ordered else '')
    ok_type = is_int if integer else is_real
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or \
            len(value) != 2 or not all(ok_type(v) for v in value):
        raise InvalidArgumentError(owner, name, value, allowed)
    vals = tuple(int(v) if integer else float(v) for v in value)
    if not all(math.isfinite(v) and _in_range(v, lo, hi, lo_open, hi_open)
               for v in vals) or (ordered and vals[0] > vals[1]):
        raise InvalidArgumentError(owner, name, value, allowed)
    return vals


def check_size(owner: str, name: str, value: Any, lo: int = 1) -> Tuple[int, int]:
    """An int ``n`` (meaning ``(n, n)``) or an ``(h, w)`` pair of ints, each >= lo."""
    allowed = f'an int >= {lo} or a pair of ints >= {lo}'
    if is_int(value):
        if int(value) < lo:
            raise InvalidArgumentError(owner, name, value, allowed)
        return int(value), int(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or \
            len(value) != 2 or not all(is_int(v) and int(v) >= lo for v in value):
        raise InvalidArgumentError(owner, name, value, allowed)
    return int(value[0]), int(value[1])


def check_dict(owner: str, name: str, value: Any, allow_none: bool = True,
               keys: Optional[Iterable[str]] = None) -> Optional[dict]:
    """A dict (``None`` if ``allow_none``), with keys among ``keys`` if given."""
    if value is None and allow_none:
        return None
    if not isinstance(value, dict):
        raise InvalidArgumentError(owner, name, value,
                                   'a dict' + (' or None' if allow_none else ''))
    if keys is not None:
        keys = tuple(keys)
        unknown = sorted(set(value) - set(keys), key=str)
        if unknown:
            raise InvalidArgumentError(owner, name, value,
                                       f'a dict with keys among {", ".join(keys)} '
                                       f'(unknown: {", ".join(map(str, unknown))})')
    return value


__all__ = ['InvalidArgumentError', 'arg_error', 'check_int', 'check_float',
           'check_bool', 'check_choice', 'check_str', 'check_str_list',
           'check_pair', 'check_size', 'check_dict', 'is_int', 'is_real']
