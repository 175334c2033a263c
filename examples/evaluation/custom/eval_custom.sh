#!/usr/bin/env bash
# Your own data in ./your_data_path: corpus.jsonl, test_queries.jsonl, test_qrels.jsonl (or BEIR's layout),
# either directly in the folder or in one sub-folder per dataset.
if [ -z "$HF_HUB_CACHE" ]; then
    export HF_HUB_CACHE="$HOME/.cache/huggingface/hub"
fi
# model cache: falls back to the hub cache when HF_MODEL_CACHE is unset (an unset variable would leave --cache_dir without a value)
HF_MODEL_CACHE="${HF_MODEL_CACHE:-$HF_HUB_CACHE}"

python -m FlagEmbedding.evaluation.custom \
    --eval_name your_data_name \
    --dataset_dir ./your_data_path \
    --splits test \
    --corpus_embd_save_dir ./your_data_name/corpus_embd \
    --output_dir ./your_data_name/search_results \
    --search_top_k 1000 \
    --rerank_top_k 100 \
    --cache_path "$HF_HUB_CACHE" \
    --overwrite False \
    --k_values 10 100 \
    --eval_output_method markdown \
    --eval_output_path ./your_data_name/eval_results.md \
    --eval_metrics ndcg_at_10 recall_at_100 \
    --embedder_name_or_path BAAI/bge-m3 \
    --reranker_name_or_path BAAI/bge-reranker-v2-m3 \
    --devices cuda:0 cuda:1 \
    --cache_dir "$HF_MODEL_CACHE" \
    --reranker_query_max_length 512 \
    --reranker_max_length 1024
