# expect: 6:34: hardware.cores: 0 is out of range (an integer from 1 to 64); set by Cores(0)
"""A Python DSL spec with a bad value: the error names the line of the fragment call."""

from fixar_gen.dsl import Array, Cores, Default

spec = Default() + Array(4, 4) + Cores(0)
