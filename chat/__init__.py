"""Answers that cite the KB: triage, retrieval, support check, generation, citation verification.

    from chat.pipeline import Pipeline
    pipeline = Pipeline.load(db_url="sqlite:///var/kb.sqlite", index_dir="var/index")
    answer = pipeline.answer("阿莫西林的副作用有哪些？")
    print(answer.text, answer.citations)

Nothing here imports a CLI module; `chat.cli` is the `chat` command (UI, ask, serve, eval).
"""
