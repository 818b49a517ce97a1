"""The study pipeline: from an experiment config to results.jsonl and the report.

config → plan (plan/: plan.py, dag.py, identity.py) → run/runner.py (lock, workdir
record, data check) → an executor (run/in_process.py, or run/ray_executor.py with
each stage's resources from run/resources.py) → each stage's work (run/work.py:
trained by the trainer through run/training.py → train/stage.py, then its evaluation
units, run/units.py through `eval.evaluators`; faults in run/failures.py and
run/watchdog.py, goodput in run/attempts.py, run/held_chips.py and run/goodput.py) →
results.jsonl (run/results.py, records of `eval.analysis.records`) → the report
(`eval.report`). Every workdir path is named in layout.py. Costing and compile-only
runs of a study (plan/): cost.py, lengths.py, roofline.py, timing.py, schedule.py,
compile.py, programs.py, targets.py (docs/cost.md). docs/architecture.md describes
the layers.
"""
