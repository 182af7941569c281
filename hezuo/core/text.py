"""Text that code puts together for pages, in the reader's language."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import pgettext


def join_words(items: Iterable[object]) -> str:
    """The items of a list inside a sentence: 甲、乙、丙 in Chinese, "a, b, c" in English."""
    return pgettext("list separator", ", ").join(str(item) for item in items)
