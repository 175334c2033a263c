"""Per-dataset query instructions used with ``--use_special_instructions``."""

BEIRInstructions = {
    "dbpedia-entity": "Given a query, retrieve relevant entity descriptions from DBPedia.",
    "arguana": "Given a claim, find documents that refute the claim.",
    "climate-fever": "Given a claim about climate change, retrieve documents that support or refute the claim.",
    "cqadupstack": "Given a question, retrieve detailed question descriptions from Stackexchange that are duplicates to the given question.",
    "fever": "Given a claim, retrieve documents that support or refute the claim.",
    "fiqa": "Given a financial question, retrieve user replies that best answer the question.",
    "hotpotqa": "Given a multi-hop question, retrieve documents that can help answer the question.",
    "msmarco": "Given a web search query, retrieve relevant passages that answer the query.",
    "nfcorpus": "Given a question, retrieve relevant documents that best answer the question.",
    "nq": "Given a question, retrieve Wikipedia passages that answer the question.",
    "quora": "Given a question, retrieve questions that are semantically equivalent to the given question.",
    "scidocs": "Given a scientific paper title, retrieve paper abstracts that are cited by the given paper.",
    "scifact": "Given a scientific claim, retrieve documents that support or refute the claim.",
    "webis-touche2020": "Given a question, retrieve detailed and persuasive arguments that answer the question.",
    "trec-covid": "Given a query on COVID-19, retrieve documents that answer the query.",
}
