#!/usr/bin/env bash
# Smoke test of a plain install: a fresh virtual environment with `pip install .` (not
# editable, no extras), then every `fixar` command that needs no extra, run from an
# empty folder so nothing is imported from the checkout.  A command that needs an extra
# or an external tool must exit 2 with one line naming what to install.
#
#   .ci/smoke_plain.sh [VENV]        (default VENV: .ci/venv-plain; about 30 s on 2 cores)
#
# Exit 0 when every check passes, 1 (after listing the failed checks) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="${1:-.ci/venv-plain}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$ROOT"
FIXAR="$VENV/bin/fixar"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > tiny.yaml <<'EOF'
name: tiny
env: {id: Pendulum-v1}
networks:
  actor: {hidden: [5, 3], activation: relu, output: tanh}
  critic: {hidden: [4], activation: relu}
algorithm: {batch_size: 3, warmup_steps: 40, total_steps: 200}
numerics: {precision: qat, qat_delay: 30}
hardware: {cores: 2, array: [2, 3]}
EOF

failed=()

# expect STATUS PATTERN COMMAND...: COMMAND exits STATUS; PATTERN (an extended regex,
# or '' for none) is found in its output; on exit 2, stderr is exactly one line.
expect() {
    local want="$1" pattern="$2"
    shift 2
    local status=0
    "$@" >out.txt 2>err.txt || status=$?
    local problem=""
    if [ "$status" -ne "$want" ]; then
        problem="exit $status, expected $want"
    elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" out.txt err.txt; then
        problem="output lacks /$pattern/"
    elif [ "$want" -eq 2 ] && [ "$(wc -l < err.txt)" -ne 1 ]; then
        problem="stderr is not one line"
    fi
    if [ -n "$problem" ]; then
        failed+=("$*: $problem")
        echo "FAIL $*: $problem" >&2
        tail -n 5 err.txt >&2
    else
        echo "ok   $*"
    fi
}

# the package comes from the venv, not from the checkout
expect 0 "$VENV" "$VENV/bin/python" -c "import fixar_gen; print(fixar_gen.__file__)"
expect 0 "fixar_gen" "$FIXAR" --version
expect 0 ": ok: " "$FIXAR" validate "$ROOT"/examples/*.yaml "$ROOT/examples/custom_dsl.py" tiny.yaml
expect 0 '"\$schema"' "$FIXAR" schema
expect 0 "name: pendulum" "$FIXAR" show "$ROOT/examples/pendulum.yaml"
expect 0 "IPS" "$FIXAR" estimate "$ROOT/examples/fixar_u50.yaml"
expect 0 "cycles modeled" "$FIXAR" compile "$ROOT/examples/pendulum.yaml" --phase train
expect 0 "hostmap.json" "$FIXAR" generate tiny.yaml -o gen
expect 0 "200 steps" "$FIXAR" train tiny.yaml --out run --quiet
expect 0 "wrote" "$FIXAR" sweep tiny.yaml --over cores=1,2 --out sweep --engine local --jobs 1
expect 0 "identical" "$FIXAR" cosim tiny.yaml --backend pyrtl --updates 1
# commands that need an extra name it
expect 2 "fixar_gen\[verify\]" "$FIXAR" verify tiny.yaml --backend pyrtl --examples 2
expect 2 "fixar_gen\[plot\]" "$FIXAR" plot run -o run/rewards.png
# commands that need an external tool name it when it is missing (a system install is used)
if command -v verilator >/dev/null 2>&1; then
    echo "skip generate --verilate: a system Verilator is on PATH"
else
    expect 2 "verilator not found" "$FIXAR" generate tiny.yaml -o gen --verilate
fi
if command -v yosys >/dev/null 2>&1; then
    echo "skip generate --synth: a system Yosys is on PATH"
else
    expect 2 "yosys not found" "$FIXAR" generate tiny.yaml -o gen --synth
fi

if [ "${#failed[@]}" -gt 0 ]; then
    echo "plain-install smoke test: ${#failed[@]} check(s) failed:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "plain-install smoke test: every check passed"
