#!/usr/bin/env bash
# MKQA test (English and simplified Chinese) with bge-m3 + bge-reranker-v2-m3; metric: answer recall@20.
if [ -z "$HF_HUB_CACHE" ]; then
    export HF_HUB_CACHE="$HOME/.cache/huggingface/hub"
fi
# model cache: falls back to the hub cache when HF_MODEL_CACHE is unset (an unset variable would leave --cache_dir without a value)
HF_MODEL_CACHE="${HF_MODEL_CACHE:-$HF_HUB_CACHE}"

python -m FlagEmbedding.evaluation.mkqa \
    --eval_name mkqa \
    --dataset_dir ./mkqa/data \
    --dataset_names en zh_cn \
    --splits test \
    --corpus_embd_save_dir ./mkqa/corpus_embd \
    --output_dir ./mkqa/search_results \
    --search_top_k 1000 \
    --rerank_top_k 100 \
    --cache_path "$HF_HUB_CACHE" \
    --overwrite False \
    --k_values 20 \
    --eval_output_method markdown \
    --eval_output_path ./mkqa/mkqa_eval_results.md \
    --eval_metrics qa_recall_at_20 \
    --embedder_name_or_path BAAI/bge-m3 \
    --reranker_name_or_path BAAI/bge-reranker-v2-m3 \
    --devices cuda:0 cuda:1 \
    --cache_dir "$HF_MODEL_CACHE" \
    --reranker_query_max_length 512 \
    --reranker_max_length 1024
