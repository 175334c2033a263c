#!/usr/bin/env bash
# BRIGHT (short documents): one run per query split, each with its own output folder and summary.
if [ -z "$HF_HUB_CACHE" ]; then
    export HF_HUB_CACHE="$HOME/.cache/huggingface/hub"
fi
# model cache: falls back to the hub cache when HF_MODEL_CACHE is unset (an unset variable would leave --cache_dir without a value)
HF_MODEL_CACHE="${HF_MODEL_CACHE:-$HF_HUB_CACHE}"

for split in examples gpt4_reason; do
python -m FlagEmbedding.evaluation.bright \
    --task_type short \
    --use_special_instructions True \
    --eval_name bright_short \
    --dataset_dir ./bright_short/data \
    --dataset_names pony theoremqa_theorems \
    --splits "$split" \
    --corpus_embd_save_dir ./bright_short/corpus_embd \
    --output_dir "./bright_short/search_results/$split" \
    --search_top_k 2000 \
    --cache_path "$HF_HUB_CACHE" \
    --overwrite False \
    --k_values 1 10 100 \
    --eval_output_method markdown \
    --eval_output_path "./bright_short/eval_results_$split.md" \
    --eval_metrics ndcg_at_10 recall_at_10 recall_at_100 \
    --embedder_name_or_path BAAI/bge-reasoner-embed-qwen3-8b-0923 \
    --embedder_model_class decoder-only-base \
    --query_instruction_format_for_retrieval 'Instruct: {}\nQuery: {}' \
    --pooling_method last_token \
    --devices cuda:0 cuda:1 \
    --cache_dir "$HF_MODEL_CACHE" \
    --embedder_batch_size 2 \
    --embedder_query_max_length 8192 \
    --embedder_passage_max_length 8192
done
