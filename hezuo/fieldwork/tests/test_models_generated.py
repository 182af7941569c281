"""Generated view tests (hezuo.core.testing) for fieldwork models: none are declared with a ModelUI.

Fieldwork's pages are hand-written (flags, cleanup cases with their transitions, runs, rule sets) and are
covered by tests/test_matrix.py (every persona × page × object in and out of reach) and tests/test_cleanup.py.
"""

GENERATED_TESTS_EXEMPT = {
    "fieldwork.flag": "raised by detection runs, never added or edited on a page; matrix in test_matrix.py",
    "fieldwork.cleanupcase": "changed only through its transitions (test_cleanup.py, test_matrix.py)",
    "fieldwork.detectionrun": "started by the task or `hezuo detect`; read-only pages (test_matrix.py)",
    "fieldwork.ruleset": "policy data loaded from YAML; read-only page (test_matrix.py)",
    "fieldwork.visit": "recorded on the phone form, never edited; per-persona tests in test_visits.py",
}
