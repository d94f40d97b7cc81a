#!/usr/bin/env bash
# Script task benchmarks (not tests), on the release binary:
#   1. shell.Commands `echo hi` on the Process runner against `sh -c 'echo hi'`
#   2. python.Script printing one output against `python3 -c` of the same script
#   3. a ForEach of 100 such shell tasks
#   4. a script printing 1 GiB to stdout: wall time and runner's peak RSS (GNU time)
#   5. the Docker runner against `docker run --rm` of the same command (needs an engine with
#      the test image: scripts/engine.sh)
# Usage: bench/scripts.sh   (prints hyperfine's tables; results go in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine time; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x /usr/bin/time ]; then
        echo "installing $tool (Debian package)..." >&2
        { apt-get install -y -q "$tool" || { apt-get update -q && apt-get install -y -q "$tool"; }; } >/dev/null
    fi
done
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > shell.yaml <<'YAML'
id: shell
namespace: bench
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo hi
YAML
cat > python.yaml <<'YAML'
id: python
namespace: bench
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      print('::{"outputs":{"n":1}}::')
YAML
{
    printf 'id: loop\nnamespace: bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: "{{ range(1, 100) }}"\n    tasks:\n'
    printf '      - id: sh\n        type: io.kestra.plugin.scripts.shell.Commands\n        commands:\n          - echo hi\n'
} > foreach.yaml
cat > gib.yaml <<'YAML'
id: gib
namespace: bench
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      # 1 GiB of 100-byte lines.
      - yes 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' | head -c 1073741824
YAML

run="$bin run --storage $work/st --task-runner process --log-level warn"
hyperfine -N --warmup 5 --runs 50 \
    -n "sh -c 'echo hi'" "sh -c 'echo hi'" \
    -n "runner: shell.Commands echo hi" "$run shell.yaml"
hyperfine -N --warmup 5 --runs 30 \
    -n "python3 -c (same script)" "python3 -c 'print(\"::{\\\"outputs\\\":{\\\"n\\\":1}}::\")'" \
    -n "runner: python.Script, one output" "$run python.yaml"
hyperfine -N --warmup 1 --runs 10 \
    -n "runner: ForEach of 100 shell tasks" "$run foreach.yaml"

echo
echo "1 GiB of stdout through a script (logs to /dev/null):"
/usr/bin/time -f "  wall %e s, runner peak RSS %M KiB" \
    "$bin" run --storage "$work/st" --task-runner process gib.yaml 2>&1 >/dev/null |
    grep -E "wall|Flow completed" || true

host=${DOCKER_HOST:-unix:///var/run/docker.sock}
if DOCKER_HOST=$host docker image inspect localhost/runner-busybox:test >/dev/null 2>&1; then
    cat > docker.yaml <<'YAML'
id: docker
namespace: bench
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/runner-busybox:test
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      networkMode: none
      pullPolicy: NEVER
    commands:
      - echo hi
YAML
    export DOCKER_HOST=$host
    hyperfine -N --warmup 2 --runs 15 \
        -n "docker run --rm --network none IMG sh -c 'echo hi'" \
        "docker run --rm --network none localhost/runner-busybox:test sh -c 'echo hi'" \
        -n "runner: Docker runner, echo hi" "$bin run --storage $work/st --task-runner docker --log-level warn docker.yaml"
else
    echo "Docker runner benchmark skipped: no engine with localhost/runner-busybox:test (scripts/engine.sh)"
fi
