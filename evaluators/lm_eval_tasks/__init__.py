"""Ring Lab suites as lm-eval tasks (use this directory with lm_eval --include_path)."""
