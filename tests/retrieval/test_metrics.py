"""Metrics against hand-computed values, summaries and MKQA answer recall."""
from math import log2

import pytest

from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.retrieval.metrics import evaluate_mrr, evaluate_recall_cap
from FlagEmbedding.abc.evaluation.summary import summary_markdown
from FlagEmbedding.evaluation.mkqa.utils import evaluate_qa_recall, has_answer, normalize

# q1: ranks d2(0) d1(1) d5(unjudged) d3(2)   -> positives d1, d3
# q2: nothing relevant retrieved             -> positive d4
# q3: judged, but no positive at all         -> every metric 0, no division by zero
# q4: in qrels, no results                   -> ignored (pytrec does not report it)
# q5: relevant doc at rank 1                 -> all 1 (P@3 = 1/3)
# q6: 3 positives, 2 of them in the top 2    -> recall@1 = 1/3 but recall_cap@1 = 1
# qx: results without qrels                  -> ignored, no KeyError
QRELS = {
    "q1": {"d1": 1, "d2": 0, "d3": 2},
    "q2": {"d4": 1},
    "q3": {"d5": 0},
    "q4": {"d1": 1},
    "q5": {"d9": 1},
    "q6": {"a": 1, "b": 1, "c": 1},
}
RUN = {
    "q1": {"d2": 0.9, "d1": 0.8, "d5": 0.7, "d3": 0.6},
    "q2": {"d1": 0.5, "d2": 0.4},
    "q3": {"d5": 0.3},
    "q5": {"d9": 0.1, "d8": 0.05},
    "q6": {"a": 0.9, "b": 0.8, "z": 0.7},
    "qx": {"d1": 1.0},
}
N = 5  # evaluated queries: q1 q2 q3 q5 q6
L3 = 1 / log2(3)  # discount of rank 2
NDCG3_Q1 = L3 / (2 + L3)  # DCG: d1 (gain 1) at rank 2; ideal: d3 (2) then d1 (1)
NDCG3_Q6 = (1 + L3) / (1 + L3 + 0.5)  # ideal: three gains of 1 at ranks 1-3
EXPECTED = {
    "ndcg_at_1": (0 + 0 + 0 + 1 + 1) / N,
    "ndcg_at_3": (NDCG3_Q1 + 0 + 0 + 1 + NDCG3_Q6) / N,
    "map_at_1": (0 + 0 + 0 + 1 + 1 / 3) / N,
    "map_at_3": ((1 / 2) / 2 + 0 + 0 + 1 + (1 + 1) / 3) / N,
    "recall_at_1": (0 + 0 + 0 + 1 + 1 / 3) / N,
    "recall_at_3": (1 / 2 + 0 + 0 + 1 + 2 / 3) / N,
    "precision_at_1": (0 + 0 + 0 + 1 + 1) / N,
    "precision_at_3": (1 / 3 + 0 + 0 + 1 / 3 + 2 / 3) / N,
    "mrr_at_1": (0 + 0 + 0 + 1 + 1) / N,
    "mrr_at_3": (1 / 2 + 0 + 0 + 1 + 1) / N,
    "recall_cap_at_1": (0 + 0 + 0 + 1 + 1) / N,
    "recall_cap_at_3": (1 / 2 + 0 + 0 + 1 + 2 / 3) / N,
}


def test_compute_metrics_matches_hand_computed_values():
    metrics = AbsEvaluator.compute_metrics(QRELS, RUN, [1, 3])
    assert list(metrics) == list(EXPECTED)  # family by family, each for every k
    assert metrics == {key: round(value, 5) for key, value in EXPECTED.items()}


def test_mrr_and_recall_cap_share_pytrecs_denominator():
    assert evaluate_mrr(QRELS, RUN, [3]) == {"MRR@3": round(2.5 / N, 5)}
    assert evaluate_recall_cap(QRELS, RUN, [1]) == {"R_cap@1": round(2 / N, 5)}
    # nothing evaluable: no division by zero
    assert evaluate_mrr({"q": {"d": 1}}, {"other": {"d": 1.0}}, [1]) == {"MRR@1": 0.0}


def test_qa_recall_hand_computed():
    contexts = {
        "q1": ["the capital is paris", "nothing here"],        # hit at rank 1
        "q2": ["foo bar", "The Eiffel Tower is tall"],         # hit at rank 2
        "q3": ["a caf\u00e9 au lait", "x"],                      # answer is 'cafe' without accent: no hit
        "q4": ["paris"],                                        # no answers -> not counted
    }
    answers = {"q1": ["Paris"], "q2": ["eiffel tower"], "q3": ["cafe", "par"]}
    assert evaluate_qa_recall(contexts, answers, [1, 2]) == {"qa_recall_at_1": 1 / 3, "qa_recall_at_2": 2 / 3}


def test_has_answer_is_token_level_and_unicode_aware():
    assert has_answer(["CAF\u00c9"], "un caf\u00e9 noir")       # NFD + lower-case on both sides
    assert not has_answer(["par"], "paris")                     # whole tokens only
    assert has_answer(["U.S."], "the u.s. army")                # punctuation is its own token
    assert not has_answer(["new york"], "york new")


def test_mkqa_normaliser():
    assert normalize("a\u2013b \u201cq\u201d it\u2019s 5\u2033 x\u2026 1\u20442\u00ad\x01\x0b") == 'a-b "q" it\'s 5\'\' x... 1/2 '


def test_summary_markdown_sorted_missing_and_ties():
    results = {
        "m2": {"NoReranker": {"b-test": {"ndcg_at_10": 0.5}, "a-test": {"ndcg_at_10": 0.25}}},
        "m1": {"rr": {"a-test": {"ndcg_at_10": 0.25}},
               "NoReranker": {"b-test": {"ndcg_at_10": 0.4}, "a-test": {"ndcg_at_10": 0.1}}},
    }
    text = summary_markdown(results, ["ndcg_at_10", "recall_at_10"])
    assert text == (
        "## ndcg_at_10\n\n"
        "| Model | Reranker | average | a-test | b-test |\n"
        "| :---- | :---- | :---: | :---: | :---: |\n"
        "| m1 | NoReranker | 25.000 | 10.000 | 40.000 | \n"
        "| m1 | rr | - | **25.000** | - | \n"
        "| m2 | NoReranker | **37.500** | **25.000** | **50.000** | \n"
        "\n"
        "## recall_at_10\n\n"
        "| Model | Reranker | average | a-test | b-test |\n"
        "| :---- | :---- | :---: | :---: | :---: |\n"
        "| m1 | NoReranker | - | - | - | \n"
        "| m1 | rr | - | - | - | \n"
        "| m2 | NoReranker | - | - | - | \n"
        "\n"
    )


def test_summary_rejects_unknown_method(tmp_path):
    from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner

    with pytest.raises(ValueError, match=r"^Invalid output method: csv\. Available methods: \['json', 'markdown'\]$"):
        AbsEvalRunner.evaluate_metrics(str(tmp_path), "csv", str(tmp_path / "x"), ["ndcg_at_10"])
