#!/bin/sh
# SageMaker starts the container with one argument: `train` for training jobs (used for both our
# training and evaluation jobs) and `serve` for endpoints. Which job a training job runs comes from
# env CBKIT_JOB, else the hyperparameter `cbkit_job` (train | evaluate), else train.
#
# Overrides for running outside a container (the tests do): CBKIT_APP_DIR (where common/dist is),
# SM_ROOT (instead of /opt/ml), MODEL_DIR, HOST, PORT, STATE_FILE.
set -eu

APP_DIR="${CBKIT_APP_DIR:-/opt/program}"
SM_ROOT="${SM_ROOT:-/opt/ml}"
CONTAINER_DIR="$APP_DIR/common/dist/container"

fail() {
  # SageMaker shows the failure file as the job's FailureReason.
  mkdir -p "$SM_ROOT/output"
  printf '%s\n' "$1" > "$SM_ROOT/output/failure"
  echo "$1" >&2
  exit 2
}

case "${1:-serve}" in
  train)
    job="${CBKIT_JOB:-}"
    hp="$SM_ROOT/input/config/hyperparameters.json"
    if [ -z "$job" ] && [ -f "$hp" ]; then
      job=$(node -e 'const h = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(h.cbkit_job ?? ""))' "$hp") \
        || fail "cannot read $hp: is it JSON?"
    fi
    case "${job:-train}" in
      train) exec node "$CONTAINER_DIR/train.js" --root "$SM_ROOT" ;;
      evaluate) exec node "$CONTAINER_DIR/evaluate.js" --root "$SM_ROOT" ;;
      *) fail "unknown job '$job': set env CBKIT_JOB or hyperparameter cbkit_job to train or evaluate" ;;
    esac
    ;;
  serve)
    # SageMaker routes GET /ping and POST /invocations to port 8080 on all interfaces.
    exec node "$CONTAINER_DIR/serve.js" --host "${HOST:-0.0.0.0}" --port "${PORT:-${SAGEMAKER_BIND_TO_PORT:-8080}}" \
      --model-dir "${MODEL_DIR:-$SM_ROOT/model}"
    ;;
  *)
    exec "$@"
    ;;
esac
