"""Raw-format readers, TFDS builders, featurisation and batching."""
