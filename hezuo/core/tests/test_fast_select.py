"""FastSelect writes the same <select> as Django's template-rendered Select."""

from __future__ import annotations

from django import forms
from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

from hezuo.core.filters import FastSelect

CHOICES = [
    ("", "---------"),
    ("a", "Apple & <pear>"),
    ("b", "Banana"),
    ("Group", [("c", "Cherry"), ("d", "Date")]),
]


class FastSelectTests(SimpleTestCase):
    def check(self, value: object, choices: list = CHOICES, attrs: dict | None = None) -> None:
        expected = forms.Select(choices=choices, attrs=attrs).render("f", value, {"id": "id_f"})
        actual = FastSelect(choices=choices, attrs=attrs).render("f", value, {"id": "id_f"})
        self.assertHTMLEqual(actual, expected)

    def test_same_html_as_django(self) -> None:
        for value in (None, "", "a", "c", "zzz"):
            self.check(value)
        self.check("b", attrs={"class": "form-select", "data-x": "1", "required": True})

    @given(
        st.lists(st.tuples(st.text(max_size=5), st.text(max_size=8)), max_size=6, unique_by=lambda c: c[0]),
        st.one_of(st.none(), st.text(max_size=5)),
    )
    def test_same_html_for_any_choices(self, choices: list, value: object) -> None:
        self.check(value, choices=choices)
