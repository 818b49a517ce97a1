"""The fleet: the Ray cluster of Cloud TPU VMs (`tpu.yaml`, rendered per study by
`render.py`) and the exact environment every node installs (`lockfile.py`)."""
