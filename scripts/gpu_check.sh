#!/usr/bin/env bash
# Every GPU benchmark of seqgen in one run, in under 8 minutes (each has a time limit; together 7 min 45 s at
# most), each writing its JSON into benchmarks/:
#   train-gpu.json    training throughput, 2×512 T128 B64 and 3×1024 T128 B256, fp32 and bf16, seqgen against a
#                     bare nn.LSTM step (scripts/bench_train.py)
#   sample-gpu.json   sampling, 3×512: µs per token at batch 1 with the CUDA graph, tokens/s at batch 512
#                     (scripts/bench_sample.py)
#   quality-gpu.json  bf16 against fp32: best validation loss of seqgen's default recipe on tiny shakespeare
#                     after the same minutes of training each (scripts/bench_quality.py)
#   ddp-gpu.json      data-parallel scaling over every GPU present, when there are two or more
#                     (scripts/bench_ddp.py)
#
#   scripts/gpu_check.sh            # run everything
#   scripts/gpu_check.sh --print    # only print the commands
#
# Without a CUDA GPU it stops at once with one line. Each benchmark has its own time limit; one that fails or
# overruns is reported and the others still run; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
QUALITY_MINUTES=${QUALITY_MINUTES:-1.5}  # per arm (fp32, bf16)

if [[ "${1:-}" != "--print" ]]; then
    if ! "$PYTHON" -c "import torch, seqgen" 2>/dev/null; then
        echo "gpu_check: $PYTHON cannot import torch and seqgen; activate seqgen's environment or set PYTHON=" >&2
        exit 1
    fi
    gpus=$("$PYTHON" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)")
    if [[ "$gpus" -lt 1 ]]; then
        echo "gpu_check: no CUDA GPU is visible to PyTorch here (torch.cuda.is_available() is False); run it on a machine with one" >&2
        exit 1
    fi
    echo "gpu_check: $gpus GPU(s): $("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0))')" >&2
else
    gpus=2
fi

failed=()
start=$SECONDS

bench() {  # bench NAME LIMIT_SECONDS command...
    local name=$1 limit=$2
    shift 2
    if [[ "${PRINT:-}" == 1 ]]; then
        echo "timeout $limit $*"
        return
    fi
    echo "gpu_check: $name (at most ${limit}s)" >&2
    local began=$SECONDS
    timeout --signal=INT --kill-after=10 "$limit" "$@"
    local status=$?
    if [[ $status -ne 0 ]]; then
        failed+=("$name (exit $status)")
        echo "gpu_check: $name failed (exit $status)" >&2
    fi
    echo "gpu_check: $name took $((SECONDS - began))s" >&2
}

[[ "${1:-}" == "--print" ]] && PRINT=1

bench training 90 "$PYTHON" scripts/bench_train.py --device cuda --shapes small,large --steps 30 --repeats 2 \
    --output benchmarks/train-gpu.json
bench sampling 45 "$PYTHON" scripts/bench_sample.py --device cuda --num-layers 3 --batch 512 --steps 400 \
    --repeats 3 --output benchmarks/sample-gpu.json
bench quality "$("$PYTHON" -c "print(int($QUALITY_MINUTES * 2 * 60 + 60))")" "$PYTHON" scripts/bench_quality.py --device cuda \
    --minutes "$QUALITY_MINUTES" --arms seqgen_fp32,seqgen --output benchmarks/quality-gpu.json
if [[ "$gpus" -ge 2 ]]; then
    bench data-parallel 90 "$PYTHON" scripts/bench_ddp.py --device cuda --steps 60 --repeats 1 \
        --output benchmarks/ddp-gpu.json
else
    echo "gpu_check: one GPU: no data-parallel scaling to measure (benchmarks/ddp-gpu.json not written)" >&2
fi

[[ "${PRINT:-}" == 1 ]] && exit 0
echo "gpu_check: done in $((SECONDS - start))s" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "gpu_check: failed: ${failed[*]}" >&2
    exit 1
fi
