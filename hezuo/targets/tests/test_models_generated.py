"""The plans' models have no generic ModelUI pages (add/edit/retire forms), so the generated view tests of
hezuo.core.testing do not apply; read by hezuo/core/tests/test_permission_matrix.py. Their pages are covered
per persona by tests/test_matrix.py, their writes and history by tests/test_loader.py."""

GENERATED_TESTS_EXEMPT = {
    "targets.plan": "loaded from plan files or made from another plan in the UI, with history "
    "(tests/test_loader.py, tests/test_editing.py); pages: tests/test_matrix.py",
    "targets.metric": "created with its plan by the loader (tests/test_loader.py); no pages of its own",
    "targets.target": "loaded from plan files and edited cell by cell in the UI, with history "
    "(tests/test_loader.py, tests/test_editing.py); shown in the "
    "progress table (tests/test_progress.py, tests/test_matrix.py)",
}
