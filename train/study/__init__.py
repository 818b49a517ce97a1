"""The study pipeline: from an experiment config to results.jsonl and the report.

config → plan (plan.py, dag.py, identity.py) → runner (runner.py: lock, workdir
record, data check) → each stage trained by the trainer (training.py → train/stage.py)
into its model directory → its evaluation units (units.py, through
`eval.evaluators`) → results.jsonl (results.py, records of `eval.analysis.records`)
→ the report (`eval.report`). Every workdir path is named in layout.py.
Costing and compile-only runs of a study (plan/): cost.py, lengths.py, roofline.py,
timing.py, schedule.py, compile.py, programs.py, targets.py (docs/cost.md).
docs/architecture.md describes the layers.
"""
