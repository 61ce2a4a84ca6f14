"""PyRTL leaf generators of the FIXAR core (PE, array, line buffer, memories, vector
unit, controller, core, top), one small file each."""
