"""Token tagging (CoNLL-style files); the label sits on each word's first sub-word."""
