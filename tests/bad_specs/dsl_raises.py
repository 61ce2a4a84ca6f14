# expect: 6:1: the Python spec raised ValueError: invalid literal for int() with base 10: 'four'
"""A Python DSL spec whose own code fails: reported at its line, without a traceback."""

from fixar_gen.dsl import Cores, Default

spec = Default() + Cores(int("four"))
