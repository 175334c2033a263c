"""Backend flags of the evaluation CLIs (``backend_cli_cases.py``), run in a fresh interpreter."""
import os

from tests.helpers.isolated import run_isolated


def test_backend_cli_cases():
    run_isolated(os.path.join("tests", "evaluation", "backend_cli_cases.py"))
