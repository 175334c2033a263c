"""ONNX Runtime / OpenVINO backend cases (``onnx_backend_cases.py``), run in a fresh interpreter."""
import os

from tests.helpers.isolated import run_isolated


def test_onnx_backend_cases():
    run_isolated(os.path.join("tests", "inference", "backends", "onnx_backend_cases.py"))
