#!/usr/bin/env bash
# SFTP and SSH benchmarks (not tests), on the release binary, against one OpenSSH sshd started
# here on 127.0.0.1 (as root, key authentication, the internal-sftp subsystem):
#   1. upload of a 1 GiB file: sftp.Upload against OpenSSH's `sftp` (put) and `scp`
#   2. download of the same file: sftp.Download against `sftp` (get) and `scp`
#   3. ssh.Command `true` against `ssh host true` (connection and session overhead)
# Target (issue 33): runner within 1.2x of OpenSSH's tools for 1 and 2.
# Usage: bench/sftp.sh   (as root; prints hyperfine's tables and runner's peak RSS; results go
#        in bench/RESULTS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "error: run as root (sshd must log in a user)" >&2; exit 2; }
need=()
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (Debian packages)..." >&2
    { apt-get install -y -q "${need[@]}" || { apt-get update -q && apt-get install -y -q "${need[@]}"; }; } >/dev/null
fi
cargo build --release --locked -q
bin=$PWD/target/release/runner
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
mkdir -p root /run/sshd
ssh-keygen -q -t ed25519 -N '' -f host_key
ssh-keygen -q -t ed25519 -N '' -f client_key
cp client_key.pub authorized_keys
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > sshd_config <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp -d $work/root
CONF
/usr/sbin/sshd -D -e -f sshd_config 2>sshd.log &
pid=$!
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
done
head -c 1073741824 /dev/urandom > data.bin
opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$work/client_key")

key_b64=$(base64 -w0 < client_key)
export SECRET_SSH_KEY=$key_b64
common="    host: 127.0.0.1
    port: \"$port\"
    username: root
    keyfile: \"{{ secret('SSH_KEY') }}\""
cat > upload.yaml <<YAML
id: upload
namespace: bench
inputs:
  - id: file
    type: FILE
tasks:
  - id: up
    type: io.kestra.plugin.fs.sftp.Upload
$common
    from: "{{ inputs.file }}"
    to: /runner.bin
YAML
cat > download.yaml <<YAML
id: download
namespace: bench
tasks:
  - id: down
    type: io.kestra.plugin.fs.sftp.Download
$common
    from: /data.bin
YAML
cat > command.yaml <<YAML
id: command
namespace: bench
tasks:
  - id: ssh
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "$port"
    username: root
    authMethod: PUBLIC_KEY
    privateKey: "{{ secret('SSH_KEY') }}"
    strictHostKeyChecking: "no"
    commands: ["true"]
YAML
cp data.bin root/data.bin
storage=$work/storage

echo "put $work/data.bin openssh.bin" > put.batch
echo "== 1. upload 1 GiB (runner's time includes storing the FILE input: a local 1 GiB copy)"
hyperfine -N -w 1 -r 5 \
    -n runner "$bin run upload.yaml --storage $storage --input file=$work/data.bin" \
    -n sftp "sftp -q -P $port ${opts[*]} -b $work/put.batch root@127.0.0.1" \
    -n scp "scp -q -P $port ${opts[*]} $work/data.bin root@127.0.0.1:openssh.bin" || true
echo "== 2. download 1 GiB"
hyperfine -N -w 1 -r 5 --prepare "rm -rf $storage $work/got.bin" \
    -n runner "$bin run download.yaml --storage $storage" \
    -n sftp "sftp -q -P $port ${opts[*]} root@127.0.0.1:data.bin $work/got.bin" \
    -n scp "scp -q -P $port ${opts[*]} root@127.0.0.1:data.bin $work/got.bin" || true
echo "== 3. ssh.Command true"
hyperfine -N -w 3 -r 30 \
    -n runner "$bin run command.yaml --storage $storage" \
    -n ssh "ssh -p $port ${opts[*]} root@127.0.0.1 true"
echo "== peak RSS of runner (KiB), upload and download"
/usr/bin/time -f 'upload %M' "$bin" run upload.yaml --storage "$storage" --input "file=$work/data.bin" 2>&1 >/dev/null | tail -1 || true
/usr/bin/time -f 'download %M' "$bin" run download.yaml --storage "$storage" 2>&1 >/dev/null | tail -1 || true
