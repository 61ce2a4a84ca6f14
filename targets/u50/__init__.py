"""fixar_gen.targets.u50: the Alveo U50 target (Vitis RTL kernel wrapper, packaging,
pyxrt host driver)."""
