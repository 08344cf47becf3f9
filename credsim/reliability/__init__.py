"""Reliability: checkpoints and resume, clean Ctrl-C, and listing work that is not finished.

A run that writes to ``OUT`` works in the sibling folder ``OUT.partial`` (its inputs and its
latest checkpoint) until ``OUT`` is written atomically; then the work folder is removed. So a
folder named ``OUT`` is always a finished run, and ``OUT.partial`` always an unfinished one.
"""
