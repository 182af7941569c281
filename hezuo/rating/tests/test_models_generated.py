"""The rating's models have pages (ModelUI) but no generic add/edit/retire forms, so the generated view
tests of hezuo.core.testing do not apply; read by hezuo/core/tests/test_permission_matrix.py. Their pages
and endpoints are covered per persona by tests/test_matrix.py, their writes and history by
tests/test_workflow.py, tests/test_rubric.py and tests/test_monitoring.py."""

GENERATED_TESTS_EXEMPT = {
    "rating.rating": "written by rating runs, reviewed and confirmed by actions (tests/test_matrix.py, "
    "tests/test_workflow.py)",
    "rating.rubric": "loaded, copied and edited as YAML documents, never retired (tests/test_rubric.py)",
    "rating.alert": "raised by monitoring, acknowledged and resolved by actions (tests/test_monitoring.py)",
    "rating.ratingrun": "recorded by starting a run; the task writes its progress (tests/test_workflow.py)",
}
