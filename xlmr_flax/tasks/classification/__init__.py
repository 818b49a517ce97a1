"""Sentence and sentence-pair classification tasks."""
