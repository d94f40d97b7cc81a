# Phase timing for scripts/test.sh and .ci/run: `phase NAME` ends the running phase and
# starts NAME; `phases_report` ends the last one and prints every duration. Phases are kept in
# $RUNNER_PHASES (a file), so .ci/run's phases and test.sh's are reported together.
: "${RUNNER_PHASES:=$(mktemp)}"
export RUNNER_PHASES
_phase_name=""
_phase_start=0

phase() {
    _phase_end
    _phase_name=$1
    _phase_start=$(date +%s)
    # The free disk at each phase's start: a run that fills the disk says which phase did.
    printf '\n== %s (%s free)\n' "$1" "$(df -h --output=avail . 2>/dev/null | tail -n 1 | tr -d ' ')"
}

_phase_end() {
    if [ -n "$_phase_name" ]; then
        printf '%s\t%s\n' "$(( $(date +%s) - _phase_start ))" "$_phase_name" >> "$RUNNER_PHASES"
        _phase_name=""
    fi
}

phases_report() {
    _phase_end
    printf '\nphase durations:\n'
    awk -F'\t' '{ t += $1; printf "  %5d s  %s\n", $1, $2 } END { printf "  %5d s  total (%.1f min)\n", t, t / 60 }' "$RUNNER_PHASES"
}
