"""Runtimes the inference base calls: ONNX Runtime / OpenVINO export and sessions (:mod:`.onnx_backend`), fp32
linears on oneDNN (:mod:`.onednn`) and CPU probes (:mod:`.cpu_info`). Below :mod:`FlagEmbedding.abc`: nothing here
imports the abstract classes."""
