#!/usr/bin/env bash
# AIR-Bench 24.05 (qa and long-doc, arxiv, English) with bge-m3 + bge-reranker-v2-m3.
# Only search results are written; metrics come from the AIR-Bench leaderboard submission.
if [ -z "$HF_HUB_CACHE" ]; then
    export HF_HUB_CACHE="$HOME/.cache/huggingface/hub"
fi
# model cache: falls back to the hub cache when HF_MODEL_CACHE is unset (an unset variable would leave --cache_dir without a value)
HF_MODEL_CACHE="${HF_MODEL_CACHE:-$HF_HUB_CACHE}"

python -m FlagEmbedding.evaluation.air_bench \
    --benchmark_version AIR-Bench_24.05 \
    --task_types qa long-doc \
    --domains arxiv \
    --languages en \
    --splits dev test \
    --output_dir ./air_bench/search_results \
    --search_top_k 1000 \
    --rerank_top_k 100 \
    --cache_dir "$HF_HUB_CACHE" \
    --overwrite False \
    --embedder_name_or_path BAAI/bge-m3 \
    --reranker_name_or_path BAAI/bge-reranker-v2-m3 \
    --devices cuda:0 cuda:1 \
    --model_cache_dir "$HF_MODEL_CACHE" \
    --reranker_max_length 1024
