"""Experiment configs: each module but `common` is a study, `get_config(arg)` returning
an ml_collections.ConfigDict; `common` holds what they share. Configs never import
the trainer (`train`): it loads them (train.study.plan.plan.load_config_file)."""
