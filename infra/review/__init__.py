"""Review tools: they read plans (`toltek plan --json`, saved or evaluated from a git ref) and
never run a source.

- `plan_json`: the plan document, its version, loading a saved one.
"""
