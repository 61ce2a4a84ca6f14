"""Accumulator exchange between cores (FIXAR's inter-core link)."""

from .declare import Operand, vec

ACC_ADD = vec("acc_add", 21, "d = d + a on wide accumulators, a read at src_col (exact; "
              "fitted to the accumulator width by the machine's overflow mode)",
              a=Operand("acc", "partial sums", layout="unbroadcast"),
              d=Operand("acc", "accumulator"), reads_dst=True, unit="link",
              target_latency=None, engine="_k_acc_add")

OPERATIONS = (ACC_ADD,)
