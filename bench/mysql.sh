#!/usr/bin/env bash
# MySQL/MariaDB benchmark (not a test), on the release binary: Query STORE of ROWS rows to an
# Ion file against `mariadb --batch` writing the same rows as tab-separated text, both from a
# MariaDB server started here (Debian's mariadb-server, on loopback, a password user).
# Usage: bench/mysql.sh [ROWS]   (default 1,000,000; results go in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rows=${1:-1000000}

command -v hyperfine >/dev/null 2>&1 || {
    { apt-get install -y -q hyperfine || { apt-get update -q && apt-get install -y -q hyperfine; }; } >/dev/null
}
[ -x /usr/sbin/mariadbd ] || apt-get install -y -q mariadb-server >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
export DUCKDB_REQUIRE_LINKED=1
. scripts/duckdb-env.sh
cargo build --release --locked -q "${CARGO_DUCKDB[@]}"
bin=$repo/target/release/runner

work=$(mktemp -d)
user=()
if [ "$(id -u)" = 0 ]; then chown mysql: "$work"; user=(--user=mysql); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db \
    --datadir="$work/data" "${user[@]}" >/dev/null 2>&1
/usr/sbin/mariadbd --no-defaults --datadir="$work/data" --socket="$work/sock" --pid-file="$work/pid" \
    --bind-address=127.0.0.1 --port="$port" "${user[@]}" 2>"$work/err.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
until grep -q "ready for connections" "$work/err.log" 2>/dev/null; do
    kill -0 $server 2>/dev/null || { cat "$work/err.log"; exit 1; }
    sleep 0.2
done
sql() { mariadb --no-defaults --socket="$work/sock" -u root "$@"; }
sql -e "CREATE DATABASE shop CHARACTER SET utf8mb4; CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw';
        GRANT ALL ON shop.* TO 'app'@'%'; USE shop;
        CREATE TABLE shop.t (id INT PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), at DATETIME);
        INSERT INTO shop.t SELECT seq, CONCAT('user ', seq), seq * 1.5, '2024-01-01' + INTERVAL (seq % 1000) MINUTE FROM seq_1_to_$rows;"
cat > "$work/store.yaml" <<YAML
id: store
namespace: bench
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.mysql.Query
    url: jdbc:mysql://127.0.0.1:$port/shop
    username: app
    password: app-pw
    sql: SELECT id, name, amount, at FROM t
    fetchType: STORE
YAML
run="$bin run --storage $work/st --log-level warn $work/store.yaml"
peer="mariadb --no-defaults -h 127.0.0.1 -P $port -u app -papp-pw --batch -e 'SELECT id, name, amount, at FROM shop.t'"
hyperfine --warmup 1 --runs 5 -n "runner Query STORE ($rows rows)" "$run" -n "mariadb --batch ($rows rows)" "$peer > $work/out.tsv"
runner_kib=$(/usr/bin/time -f %M $run 2>&1 >/dev/null | tail -n 1)
peer_kib=$(/usr/bin/time -f %M bash -c "$peer > $work/out.tsv" 2>&1 | tail -n 1)
echo "peak RSS: runner $((runner_kib / 1024)) MiB, mariadb client $((peer_kib / 1024)) MiB"
