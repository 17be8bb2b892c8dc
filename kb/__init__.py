"""The knowledge base: drugs (药品说明书 sections), diseases and exams, with provenance and a revision."""
