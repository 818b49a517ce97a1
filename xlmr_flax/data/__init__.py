"""Raw-format readers, TFDS builders, featurisation and batching."""

from importlib import resources


def sample_data_dir() -> str:
    """The bundled sample data: every task's raw files in the official layout."""
    return str(resources.files("xlmr_flax") / "assets" / "sample_data")
