"""Training: the sharded train step, one-stage loop and the stage DAG."""
