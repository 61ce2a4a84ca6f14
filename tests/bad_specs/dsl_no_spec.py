# expect: 1:1: spec: a Python spec file must define `spec` (a Fragment such as Default() + U50(), a Spec, or a function returning one)
"""A Python file that defines no `spec`."""

design = "nothing here"
