"""Worker run with the ORIGINAL FlagEmbedding 1.4.2's interpreter: its training models' step on our batches.

``python _original_train.py spec.json``: builds the original's ``BiEncoderOnlyEmbedderModel`` (kind
``embedder``) or ``CrossEncoderModel`` (kind ``reranker``) directly on one process (``negatives_cross_device``
False, so no distributed launch), loads the initial backbone weights from the spec's safetensors file, runs
:func:`_train_steps.timed_steps` on the spec's batches (safetensors) and writes ``seconds.json`` with the seconds,
the peak RSS increase and the losses into the spec's ``out`` folder. Started by ``train_step.py --orig_python``
through :func:`_common.run_worker`; not imported by the package.
"""
from __future__ import annotations

import json
import os
import sys

from safetensors.torch import load_file

from _train_steps import load_batches, timed_steps


def build_model(spec: dict):
    """The original's training model for ``spec["kind"]`` with the spec's initial backbone weights."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    import FlagEmbedding

    assert FlagEmbedding.__file__.startswith(sys.prefix), f"not the installed original: {FlagEmbedding.__file__}"
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    if spec["kind"] == "embedder":
        from FlagEmbedding.finetune.embedder.encoder_only.base.modeling import BiEncoderOnlyEmbedderModel

        model = BiEncoderOnlyEmbedderModel(AutoModel.from_pretrained(spec["model"]), tokenizer=tokenizer,
                                           negatives_cross_device=False, temperature=spec["temperature"],
                                           sentence_pooling_method=spec["sentence_pooling_method"],
                                           normalize_embeddings=spec["normalize_embeddings"])
    else:
        from FlagEmbedding.finetune.reranker.encoder_only.base.modeling import CrossEncoderModel

        model = CrossEncoderModel(AutoModelForSequenceClassification.from_pretrained(spec["model"], num_labels=1),
                                  tokenizer=tokenizer, train_batch_size=spec["batch_size"])
    model.model.load_state_dict(load_file(spec["weights"]), strict=True)
    return model


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    model = build_model(spec)
    result = timed_steps(model, {k: v.clone() for k, v in model.state_dict().items()}, load_batches(spec["batches"]),
                         lambda batch: model(**batch).loss, spec["learning_rate"], spec["weight_decay"])
    with open(os.path.join(spec["out"], "seconds.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
