"""Recording verification decisions: the group-commit usage-log writer."""
