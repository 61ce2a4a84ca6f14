"""fixar_gen.rl: the bundled numpy DDPG with quantization-aware training that drives a
Core backend (networks, replay, noise, agent, trainer, checkpoints, plots)."""
