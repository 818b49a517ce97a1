"""Multiple-choice tasks: one sequence per choice, the head scores each."""
