"""Helpers shared by every test package, one module per concern.

- :mod:`tests.helpers.files`: JSONL and JSON files.
- :mod:`tests.helpers.benchmarks`: tiny benchmark datasets in every layout the evaluation reads, evaluation arguments.
- :mod:`tests.helpers.training`: fine-tuning records, the documented fine-tuning commands, subprocess runs.
- :mod:`tests.helpers.server`: a real ``python -m FlagEmbedding.serve`` process on 127.0.0.1.
- :mod:`tests.helpers.docs`: the Sphinx ``-W`` build and a recording static server for the browser test.
- :mod:`tests.helpers.browser`: headless Chromium, bounded in time.
"""
from __future__ import annotations

import os

#: the repository root
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
