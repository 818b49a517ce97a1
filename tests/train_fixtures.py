"""A tiny classification run shared by the train-step tests and the multi-process worker."""

import jax
import numpy as np
from flax import nnx
from jax.experimental.multihost_utils import process_allgather

from train.checkpoints import TrainCheckpoints
from train.loop import train_loop
from train.losses import get_loss
from train.metrics import MetricsWriter
from train.optimizer import make_optimizer
from train.step import init_train_state, make_train_step
from xlmr_flax import TaskModel, get_model_config
from xlmr_flax.model import set_remat
from xlmr_flax.sharding import global_batch, make_mesh

GLOBAL_BATCH, SEQ_LEN, STEPS = 16, 12, 5


def batches(seed: int = 0, size: int = GLOBAL_BATCH):
    rng = np.random.RandomState(seed)
    for _ in range(STEPS):
        ids = rng.randint(3, 1000, (size, SEQ_LEN)).astype(np.int32)
        mask = (np.arange(SEQ_LEN)[None] < rng.randint(4, SEQ_LEN + 1, (size, 1))).astype(np.int32)
        yield dict(
            input_ids=np.where(mask, ids, 1), attention_mask=mask, labels=rng.randint(0, 3, size)
        )


def tiny_state(mesh_sizes, devices=None, dropout=0.1, remat=""):
    """A fresh train state of the 2-layer classifier on a mesh (its layers
    rematerialised under the policy `remat`)."""
    config = get_model_config("tiny", hidden_dropout=dropout, attention_dropout=dropout)
    mesh = make_mesh(mesh_sizes, devices)
    model = TaskModel(config, "classification", rngs=nnx.Rngs(0), num_labels=3)
    set_remat(model, remat)
    optimizer, schedule = make_optimizer(1e-3, STEPS, warmup_fraction=0.2)
    graphdef, state = init_train_state(model, optimizer, mesh)
    return mesh, optimizer, schedule, graphdef, state


def train_tiny(
    mesh_sizes,
    devices=None,
    *,
    accumulation_steps=1,
    dropout=0.1,
    rows=None,
    workdir=None,
    remat="",
):
    """Five AdamW steps of a 2-layer model; `rows` selects this process's slice of each
    batch; with `workdir`, metrics and a final checkpoint are written there."""
    mesh, optimizer, schedule, graphdef, state = tiny_state(mesh_sizes, devices, dropout, remat)
    step = make_train_step(
        graphdef, get_loss("classification"), optimizer, schedule, state, mesh,
        seed=7, accumulation_steps=accumulation_steps,
    )  # fmt: skip
    local = ({k: v[rows] for k, v in b.items()} if rows else b for b in batches())
    history = []

    def log(fetched):
        history.extend({k: float(v) for k, v in metrics.items()} for _, metrics, _ in fetched)

    state = train_loop(step, state, (global_batch(b, mesh) for b in local), log=log)
    if workdir:
        writer = MetricsWriter(f"{workdir}/metrics.jsonl")
        for i, metrics in enumerate(history, 1):
            writer.write(i, metrics)
        checkpoints = TrainCheckpoints(f"{workdir}/checkpoints")
        checkpoints.save(state, {"next_step": STEPS})
        checkpoints.wait()
        checkpoints.close()
    # Gathered whole on every process, so the processes' results can be compared.
    params = jax.tree.map(lambda x: np.asarray(process_allgather(x, tiled=True)), state.params)
    return [h["loss"] for h in history], params
