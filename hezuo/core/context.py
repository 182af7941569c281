"""The change context: who acts, why, and which request groups the changes.

The web middleware opens one context per request; commands, imports and tasks open their own with
`change_context(...)`. Service functions read it to write the change history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ChangeContext:
    user: Any = None
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    reason: str = ""
    source: str = "web"  # web, api, cli, import, task, demo


_current: ContextVar[ChangeContext | None] = ContextVar("hezuo_change_context", default=None)


def current_context() -> ChangeContext:
    """The open context, or a fresh one-off system context (not kept: later contexts must not inherit it)."""
    ctx = _current.get()
    if ctx is None:
        ctx = ChangeContext(source="cli")
    return ctx


@contextmanager
def change_context(**kwargs: Any) -> Iterator[ChangeContext]:
    """Open a change context; values not given are inherited from the enclosing one."""
    outer = _current.get()
    ctx = replace(outer, **kwargs) if outer is not None else ChangeContext(**kwargs)
    if "request_id" not in kwargs and outer is None:
        ctx = replace(ctx, request_id=uuid.uuid4())
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
