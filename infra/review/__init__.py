"""Review tools: they read plans (`toltek plan --json`, saved or evaluated from a git ref) and
never run a source.

- `plan_json`: the plan document, its version, loading a saved one;
- `base`: BASE of `toltek plan --diff BASE`, a saved plan or a git ref evaluated in a worktree;
- `resource_diff`: resources added, removed and changed, property by property;
- `iam_diff`: grants added and removed, and which of them widen access (the rules are there);
- `conditions`: IAM conditions compared as text, for those rules;
- `cost_diff`: the monthly cost before and after, when both plans carry an estimate;
- `compare`: the whole diff and its exit code; `render`: for a terminal and as Markdown;
- `command`: `toltek plan --diff`, put together.
"""
