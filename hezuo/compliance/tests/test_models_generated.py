"""Generated view tests (hezuo.core.testing) for compliance models: none are declared with a ModelUI.

Compliance's pages are hand-written (cases with their transitions, items, tasks, assistance, the checklist)
and are covered by tests/test_matrix.py (every persona × page, API call and export × object in and out of
reach), tests/test_rectification.py and tests/test_views.py.
"""

GENERATED_TESTS_EXEMPT = {
    "compliance.checklist": "policy data loaded from YAML; read-only page (test_matrix.py)",
    "compliance.rectificationcase": "changed only through its transitions (test_rectification.py)",
    "compliance.rectificationitem": "created with its case; outcomes through record_outcome (test_views.py)",
    "compliance.rectificationtask": "opened by failed items; owner and deadline on its form (test_views.py)",
    "compliance.specialassistance": "recorded on its case's form (test_views.py, test_matrix.py)",
}
