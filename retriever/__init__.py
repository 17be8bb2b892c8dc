"""The KB as passages, indexed for hybrid retrieval: entity names, BM25 and dense vectors, fused."""
