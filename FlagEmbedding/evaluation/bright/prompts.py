"""Per-dataset query instructions of BRIGHT (short and long documents)."""

_STACKEXCHANGE = {"biology": "a Biology", "earth_science": "an Earth Science", "economics": "an Economics",
                  "psychology": "a Psychology", "robotics": "a Robotics", "stackoverflow": "a Stack Overflow",
                  "sustainable_living": "a Sustainable Living"}

BrightShortInstructions = {
    **{name: f"Given {x} post, retrieve relevant passages that help answer the post." for name, x in _STACKEXCHANGE.items()},
    "leetcode": "Given a Coding problem, retrieve relevant examples that help answer the problem.",
    "pony": "Given a Pony question, retrieve relevant passages that help answer the question.",
    "aops": "Given a Math problem, retrieve relevant examples that help answer the problem.",
    "theoremqa_questions": "Given a Math problem, retrieve relevant examples that help answer the problem.",
    "theoremqa_theorems": "Given a Math problem, retrieve relevant theorems that help answer the problem.",
}

BrightLongInstructions = {
    **{name: f"Given {x} post, retrieve relevant documents that help answer the post." for name, x in _STACKEXCHANGE.items()},
    "pony": "Given a Pony question, retrieve relevant documents that help answer the question",
}
