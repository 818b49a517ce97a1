"""Zero-shot evaluation: encoders and heads scored on every XTREME-R language."""
