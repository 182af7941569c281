"""Free-text search over cooperatives: Chinese, full pinyin and pinyin initials.

`search_text` is stored on each cooperative: its name, the pinyin of the name run together
("ninghaixian…"), the credit code, the legal representative, and last, after a "|", the initials
("nhx…"). A query matches any of them contiguously, and a query of Latin letters also matches the
initials as a subsequence ("nhbp" finds 宁海县某某白枇杷专业合作社). Contiguous matches rank first.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from pypinyin import lazy_pinyin
from pypinyin.core import Pinyin

_LATIN = re.compile(r"^[a-z]+$")
MAX_INITIALS_QUERY = 6
_CLEAN = re.compile(r"[^a-z0-9]")


_SEGMENTER = Pinyin()


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, ...]:
    """Pinyin of one segmented word (names repeat their words: 合作社, 专业, place names)."""
    return tuple(lazy_pinyin(word, errors="ignore"))


def pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of a name; one conversion serves both (the initials are first letters)."""
    syllables = [s for word in _SEGMENTER.seg(text) for s in _word_pinyin(word)]
    full = "".join(syllables).lower()
    initials = "".join(s[0] for s in syllables if s).lower()
    return _CLEAN.sub("", full), _CLEAN.sub("", initials)


def build_search_text(name: str, *extra: str) -> str:
    full, initials = pinyin_forms(name)
    parts = [name.lower(), full, *(e.lower().replace("|", " ") for e in extra if e)]
    return (" ".join(parts)[:900] + " |" + initials)[:1000]


def _escape_like(term: str) -> str:
    return term.replace("\\", "").replace("%", "").replace("_", "")


def apply_search(qs: QuerySet, query: str, field: str = "search_text") -> QuerySet:
    """Filter `qs` by the query and annotate `search_rank` (0 = contiguous match, 1 = subsequence)."""
    # "|" separates the initials in search_text: in a query it only separates terms
    terms = (query or "").replace("|", " ").lower().split()
    if not terms:
        return qs
    condition = Q()
    contiguous = Q()
    for term in terms:
        term_q = Q(**{f"{field}__contains": term})
        contiguous &= term_q
        # initials typed as a subsequence ("nhbp"): short Latin terms only; a longer one is a pinyin word,
        # matched contiguously, and its subsequence pattern would only cost a slow scan
        if _LATIN.match(term) and 2 <= len(term) <= MAX_INITIALS_QUERY:
            pattern = "%|%" + "%".join(_escape_like(term)) + "%"
            term_q |= Q(**{f"{field}__like": pattern})
        condition &= term_q
    return qs.filter(condition).annotate(
        search_rank=Case(When(contiguous, then=Value(0)), default=Value(1), output_field=IntegerField())
    )
