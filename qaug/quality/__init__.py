"""Quality gates: keep only variants that are valid, faithful and actually different."""
