"""Pictures of a pipeline: its step DAG as data, laid out, and drawn as Mermaid text or SVG."""
