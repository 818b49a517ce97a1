"""The fleet: the Ray cluster of Cloud TPU VMs (`tpu.yaml`, rendered per cluster by
`render.py`), the TPU node types it offers and the rules they keep (`node_types.py`),
the deletion of its preempted TPU VMs (`preempted.py`), and the exact environment every
node installs (`lockfile.py`)."""
