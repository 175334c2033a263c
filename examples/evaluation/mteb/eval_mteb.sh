#!/usr/bin/env bash
# MTEB (English): a retrieval, a clustering and a reranking task with bge-large-en-v1.5; JSON summary.
if [ -z "$HF_HUB_CACHE" ]; then
    export HF_HUB_CACHE="$HOME/.cache/huggingface/hub"
fi
# model cache: falls back to the hub cache when HF_MODEL_CACHE is unset (an unset variable would leave --cache_dir without a value)
HF_MODEL_CACHE="${HF_MODEL_CACHE:-$HF_HUB_CACHE}"

python -m FlagEmbedding.evaluation.mteb \
    --eval_name mteb \
    --output_dir ./mteb/search_results \
    --languages eng \
    --tasks NFCorpus BiorxivClusteringS2S SciDocsRR \
    --eval_output_path ./mteb/mteb_eval_results.json \
    --embedder_name_or_path BAAI/bge-large-en-v1.5 \
    --devices cuda:7 \
    --cache_dir "$HF_MODEL_CACHE"
