#!/usr/bin/env bash
# BEIR SciFact with the corpus encoding split between torchrun processes, on one machine or several.
#
#   one machine, 2 processes:   bash examples/distributed/eval_beir_torchrun.sh
#   N machines (run on each):   NNODES=N NODE_RANK=<0..N-1> MASTER_ADDR=<address of node 0> NPROC_PER_NODE=<GPUs>
#                               DEVICES= bash examples/distributed/eval_beir_torchrun.sh
#
# Every rank encodes its share of the corpus-cache shards into CORPUS_EMBD; rank 0 then searches and writes
# the results and the summary. DATA, CORPUS_EMBD and MODEL must be the same paths on every node (a shared
# filesystem). With DEVICES empty each rank uses cuda:<local rank> (or the CPU without GPUs). A failed launch
# run again (or torchrun --max_restarts) re-encodes only the shards that are not in the cache yet.
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
NPROC_PER_NODE="${NPROC_PER_NODE:-2}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
DATA="${DATA:-./beir/data}"
CORPUS_EMBD="${CORPUS_EMBD:-./beir/corpus_embd}"
OUTPUT="${OUTPUT:-./beir/search_results}"
MODEL="${MODEL:-sentence-transformers/all-MiniLM-L6-v2}"
SHARD_ROWS="${SHARD_ROWS:-1000}"  # corpus rows per cache shard: the unit split between ranks and resumed
DEVICES="${DEVICES-cpu}"

torchrun --nnodes "$NNODES" --node_rank "$NODE_RANK" --nproc_per_node "$NPROC_PER_NODE" \
    --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" \
    -m FlagEmbedding.evaluation.beir \
    --eval_name beir \
    --dataset_dir "$DATA" \
    --dataset_names scifact \
    --splits test \
    --corpus_embd_save_dir "$CORPUS_EMBD" \
    --corpus_embd_shard_size "$SHARD_ROWS" \
    --output_dir "$OUTPUT" \
    --search_top_k 1000 \
    --k_values 10 100 \
    --eval_output_method markdown \
    --eval_output_path "$OUTPUT/beir_eval_results.md" \
    --eval_metrics ndcg_at_10 recall_at_100 \
    --embedder_name_or_path "$MODEL" \
    --embedder_model_class encoder-only-base \
    --pooling_method mean \
    --embedder_batch_size 64 \
    --embedder_passage_max_length 256 \
    --embedder_query_max_length 256 \
    ${DEVICES:+--devices $DEVICES}
