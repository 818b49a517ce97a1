"""xlmr-flax: does the order of English intermediate tasks change zero-shot
cross-lingual transfer? XLM-R in JAX/Flax, stage pipelines, XTREME-R evaluation."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="xlmr-flax",
    version="0.1.0",
    description=__doc__.strip().replace("\n", " "),
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["xlmr_flax*", "train*", "eval*", "configs*"]),
    package_data={
        "xlmr_flax": [
            "assets/*",
            "assets/*/*",
            "assets/*/*/*",
            "assets/*/*/*/*",
            "assets/*/*/*/*/*",
        ]
    },
    install_requires=[
        "absl-py",
        "array_record",
        "conllu",  # TFDS's xtreme_pos builder parses the UD treebanks with it (fetch --task udpos)
        "flax>=0.12.8",  # NNX with out_sharding metadata and nnx.List
        "huggingface_hub",
        "importlib_resources",  # tensorflow-datasets needs it for builders of our own
        "jax>=0.10.2",
        "matplotlib",  # the report's plots (Agg backend, files only)
        "ml_collections",
        "msgpack",  # the feature cache: data only, never code (xlmr_flax/data/cache.py)
        "numpy",
        "optax",
        "orbax-checkpoint>=0.12",
        "protobuf",  # transformers needs it to convert sentencepiece models
        "pyyaml",  # the cluster file (configs/cluster/)
        "ray==2.60.0",  # --executor ray; its TPU APIs (ray.util.tpu) are alpha: pinned
        "safetensors",
        "scipy",  # t and normal tails of the report's intervals (eval/stats/effects.py)
        "sentencepiece",
        "seqeval",
        "tensorboardX",  # TensorBoard event files without TensorFlow
        "tensorflow-datasets>=4.9.9",
        "tqdm",
        "transformers>=5.0",
    ],
    extras_require={
        # torch: the PyTorch reference model; this exact CPU build installs quickly.
        "test": ["pytest", "ruff", "torch==2.13.0"],
        # `python -m train --compile-only --topology ...`: the TPU compiler (libtpu, ~700 MB)
        # and the CUDA plugin compile for those chips on a CPU-only machine. Pinned to
        # the jax of the lock file (requirements-tpu.lock); libtpu must match jax exactly.
        "compile": ["jax[tpu]==0.10.2", "jax-cuda12-plugin==0.10.2", "jax-cuda12-pjrt==0.10.2"],
        # launch_tpu.sh on your machine: Ray's cluster launcher and its Google Cloud client.
        "cluster": ["ray[default]==2.60.0", "google-api-python-client"],
    },
    entry_points={
        "console_scripts": [
            "xlmr-convert=xlmr_flax.convert.__main__:main",
            "xlmr-tokenizer=xlmr_flax.tokenizer:main",
        ]
    },
)
