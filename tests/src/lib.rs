//! berth-tests: the harness shared by the end-to-end suites in `tests/tests/`.
