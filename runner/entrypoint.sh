#!/usr/bin/env bash
# Entrypoint of the runnerctl runner image: start one single-use (JIT) GitHub Actions runner.
#
# The controller passes the encoded JIT config as a container environment override. A process's
# initial environment (/proc/<pid>/environ) is fixed when it is exec'd, so unsetting the
# variable is not enough: the entrypoint writes the config to a private file (mode 0600, in a
# directory of its own) and re-execs itself without the variable; the new image reads the file,
# removes it and hands the config to run.sh as its argument (the only way GitHub's runner takes
# it). The jobs the runner executes then find it neither in their inherited environment nor in
# the entrypoint's environ, nor on disk. docs/deploy.md says what stays visible.
# ECS stops a task with SIGTERM (then SIGKILL after the stop timeout): we forward SIGTERM and
# SIGINT to the runner and exit with the runner's own exit code.
set -euo pipefail

readonly JIT_CONFIG_ENV_NAME=RUNNERCTL_JIT_CONFIG
RUNNER_HOME="${RUNNER_HOME:-/home/runner}"

log() {
  printf 'runnerctl-entrypoint: %s\n' "$*" >&2
}

readonly JIT_CONFIG_FILE_ENV_NAME=RUNNERCTL_JIT_CONFIG_FILE

if [[ -n "${RUNNERCTL_JIT_CONFIG:-}" ]]; then
  # First pass: move the config into a file only this user can read, then start again with an
  # environment that no longer holds it.
  umask 077
  jit_dir="$(mktemp -d "${TMPDIR:-/tmp}/runnerctl-jit.XXXXXXXX")"
  printf '%s' "${RUNNERCTL_JIT_CONFIG}" >"${jit_dir}/config"
  exec env -u "${JIT_CONFIG_ENV_NAME}" "${JIT_CONFIG_FILE_ENV_NAME}=${jit_dir}/config" "$0" "$@"
fi

# Only a file the first pass made: the variable never names an arbitrary file to read and delete.
jit_file_pattern="${TMPDIR:-/tmp}/runnerctl-jit.*/config"
# shellcheck disable=SC2053 # the right-hand side is a glob on purpose
if [[ -z "${RUNNERCTL_JIT_CONFIG_FILE:-}" || "${RUNNERCTL_JIT_CONFIG_FILE}" != ${jit_file_pattern} ||
  ! -f "${RUNNERCTL_JIT_CONFIG_FILE}" ]]; then
  # Never print the value, only whether it is there.
  log "the environment variable ${JIT_CONFIG_ENV_NAME} is missing or empty;" \
    "this image must be started by the runnerctl controller, which passes the runner's JIT config in it"
  exit 64
fi

# Second pass: read the config and remove every trace of it before the runner starts.
jit_config="$(<"${RUNNERCTL_JIT_CONFIG_FILE}")"
rm -f -- "${RUNNERCTL_JIT_CONFIG_FILE}"
rmdir -- "$(dirname -- "${RUNNERCTL_JIT_CONFIG_FILE}")" 2>/dev/null || true
unset RUNNERCTL_JIT_CONFIG_FILE
if [[ -z "${jit_config}" ]]; then
  log "the JIT config passed in ${JIT_CONFIG_ENV_NAME} was empty"
  exit 64
fi

if [[ ! -x "${RUNNER_HOME}/run.sh" ]]; then
  log "no executable run.sh in RUNNER_HOME=${RUNNER_HOME}"
  exit 66
fi

runner_pid=""
# A signal that arrived before the runner was started: do not start it at all.
early_signal=""

# shellcheck disable=SC2317 # called by the traps below, which shellcheck cannot see
forward() {
  local signal="$1"
  if [[ -n "${runner_pid}" ]]; then
    log "received SIG${signal}, forwarding it to the runner (pid ${runner_pid})"
    kill -s "${signal}" "${runner_pid}" 2>/dev/null || true
  else
    early_signal="${signal}"
  fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT

cd "${RUNNER_HOME}"

if [[ -n "${early_signal}" ]]; then
  log "received SIG${early_signal} before the runner started; not starting it"
  [[ "${early_signal}" == TERM ]] && exit 143
  exit 130
fi

# Without job control bash may start a background command with SIGINT and SIGQUIT ignored, and
# a signal ignored on entry cannot be trapped by run.sh: start it from a subshell that restores
# the default dispositions explicitly, then exec (so runner_pid is run.sh itself).
(
  trap - INT QUIT TERM
  exec ./run.sh --jitconfig "${jit_config}"
) &
runner_pid=$!
jit_config=""
# A signal trapped between the fork and the assignment above found no runner_pid: pass it on now.
if [[ -n "${early_signal}" ]]; then
  log "received SIG${early_signal} while the runner was starting, forwarding it (pid ${runner_pid})"
  kill -s "${early_signal}" "${runner_pid}" 2>/dev/null || true
fi

# `wait` returns early (status > 128) whenever a trapped signal arrives; keep waiting while the
# runner is alive, then collect its real exit status (bash remembers it for reaped children).
while kill -0 "${runner_pid}" 2>/dev/null; do
  wait "${runner_pid}" || true
done
status=0
wait "${runner_pid}" || status=$?
log "runner exited with status ${status}"
exit "${status}"
