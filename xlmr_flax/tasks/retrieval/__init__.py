"""Sentence retrieval tasks: embeddings compared by cosine similarity."""
