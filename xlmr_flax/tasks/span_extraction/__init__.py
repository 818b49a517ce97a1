"""Extractive question answering (SQuAD JSON)."""
