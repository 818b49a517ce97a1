"""Experiment configs: `base` is the full study and what the others derive from; each other
module is a study, `get_config(arg)` returning an ml_collections.ConfigDict. Configs never
import the trainer (`train`): it loads them (train.study.plan.plan.load_config_file)."""
