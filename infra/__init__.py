"""Toltek infrastructure: a Pulumi program generated from the pipeline registry.

Reads the `Pipeline` declarations and the stack config; never runs a source.
"""
