"""Continue a golden-core run from its checkpoint with another gradient format.

    python benchmarks/continue_with_gradient.py CHECKPOINT_DIR --gradient 32,20 \\
        --steps 150000 --out DIR
    python benchmarks/continue_with_gradient.py --resume --gradient 32,20 --steps 170000 \\
        --out DIR CHECKPOINT_DIR

Starts a new run in ``DIR`` at the checkpoint's step, with everything the checkpoint holds
(weights, target networks, activation formats, replay buffer, random state, the rows and
evaluations so far) and the spec's gradient format replaced (the optimizer state, kept in
that format, requantized to it: :func:`grad_saturation.restore`'s conversion), and trains
to ``--steps`` as `fixar train` would.  ``--resume`` continues such a run in ``DIR`` to a
longer ``--steps`` (`fixar train --resume` refuses it: its spec is not the checkpoint's).
The checkpoint directory itself is only read.  What a changed format does from the same
state, e.g. whether saturations stop; the saturation counts continue the checkpoint's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grad_saturation as gs  # noqa: E402
from fixar_gen import load_spec  # noqa: E402
from fixar_gen.rl.checkpoint import load_checkpoint  # noqa: E402
from fixar_gen.rl.trainer import Trainer, with_run_length  # noqa: E402


def start(checkpoint: Path, gradient: tuple[int, int], steps: int, out: Path) -> Trainer:
    arrays, meta = load_checkpoint(gs.checkpoint_dir(checkpoint))
    spec = with_run_length(gs.with_gradient_format(load_spec(meta["settings"]["spec"]),
                                                   *gradient), total_steps=steps)
    trainer = Trainer(spec, "golden", out, checkpoint_every=10**9, progress=False)
    restored = gs.restore(checkpoint, gradient)
    trainer.agent.load_state_dict(restored.agent_arrays, restored.agent_meta)
    trainer.replay.load_state_dict({k[7:]: v for k, v in arrays.items()
                                    if k.startswith("replay.")})
    trainer.rng.bit_generator.state = meta["rng"]
    trainer.step, trainer.episode = int(meta["step"]), int(meta["episode"])
    trainer.rows, trainer.evals = list(meta["rows"]), list(meta["evals"])
    trainer.last_eval, trainer.switched_at = meta["last_eval"], meta["switched_at"]
    trainer.updates_done = int(meta["updates_done"])
    trainer.update_seconds = float(meta["update_seconds"])
    trainer.elapsed = float(meta["elapsed"])
    if steps > trainer.step:     # as a resumed run continued to a new length does
        trainer._drop_final_evaluation()
    return trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="the run (or checkpoint/) to start from")
    parser.add_argument("--gradient", required=True, metavar="WIDTH,FRAC")
    parser.add_argument("--steps", type=int, required=True, help="train to this step")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = parser.parse_args(argv)
    gradient = tuple(int(v) for v in args.gradient.split(","))
    if args.resume:
        _, meta = load_checkpoint(gs.checkpoint_dir(args.checkpoint))
        spec = gs.with_gradient_format(load_spec(meta["settings"]["spec"]), *gradient)
        trainer = Trainer(spec, "golden", args.out, total_steps=args.steps,
                          checkpoint_every=10**9, progress=False)
        summary = trainer.run(resume=True)
    else:
        trainer = start(args.checkpoint, gradient, args.steps, args.out)
        summary = trainer.run()
    print(json.dumps({"saturations_by_buffer": summary["saturations_by_buffer"],
                      "evals": trainer.evals[-3:]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
