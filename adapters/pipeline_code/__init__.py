"""Pipelines as code: the YAML file format, its safe loading, its JSON Schema, its diffs."""
