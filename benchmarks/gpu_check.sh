#!/usr/bin/env bash
# The GPU path in one run, on a machine with an NVIDIA GPU (about 10 minutes at most):
#   1. installs what it needs into a virtualenv (default .gpu-venv; PyPI only: torch's
#      Linux wheels carry CUDA, faiss-gpu is the project's own dependency),
#   2. runs the CUDA tests (tests/test_cuda.py; they fail, not skip, here: SEARCHENGINE_REQUIRE_CUDA=1),
#   3. prints img/s for ViT-B-32 fp16 end to end with the JPEGs decoded on the GPU
#      (torchvision.io.decode_jpeg on CUDA) and GPU FAISS search figures (benchmarks/gpu_bench.py).
#
# Usage: bash benchmarks/gpu_check.sh [--dry-run] [--venv DIR] [--python PY] [--images N] [--vectors N]
#   --dry-run   no GPU needed: uses the current interpreter's packages (or --venv), runs the
#               CUDA tests (which skip without a GPU) and gpu_bench.py on the CPU with small
#               sizes; checks the script, says nothing about a GPU
#   --venv DIR  the virtualenv to use/create (default: .gpu-venv; with --dry-run: none)
#   --python PY the interpreter that creates it (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

DRY=0; VENV=""; PY="${PYTHON:-python3}"; IMAGES=20000; VECTORS=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --venv) VENV="${2:?--venv needs a folder}"; shift ;;
    --python) PY="${2:?--python needs an interpreter}"; shift ;;
    --images) IMAGES="${2:?--images needs a number}"; shift ;;
    --vectors) VECTORS="${2:?--vectors needs a number}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$IMAGES$VECTORS" in *[!0-9]*) echo "gpu_check.sh: --images and --vectors take whole numbers" >&2; exit 2 ;; esac

step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }

if [ "$DRY" = 0 ]; then
  command -v nvidia-smi >/dev/null || { echo "gpu_check.sh: no nvidia-smi: not a machine with an NVIDIA GPU (try --dry-run)" >&2; exit 1; }
  step "GPU"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  VENV="${VENV:-.gpu-venv}"
fi

if [ -n "$VENV" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    step "installing into $VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  if ! "$VENV/bin/python" -c 'import searchengine, torch, torchvision, faiss, open_clip, pytest' 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
  fi
  PYBIN="$VENV/bin/python"
else
  PYBIN="${PYBIN:-$(command -v python3)}"
fi
"$PYBIN" - <<'EOF'
import faiss, torch, torchvision
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}), "
      f"torchvision {torchvision.__version__}, faiss {faiss.__version__} (GPUs: {faiss.get_num_gpus()})")
EOF

step "CUDA tests"
if [ "$DRY" = 0 ]; then export SEARCHENGINE_REQUIRE_CUDA=1; fi
"$PYBIN" -m pytest -q -rs tests/test_cuda.py

step "throughput"
if [ "$DRY" = 1 ]; then
  "$PYBIN" benchmarks/gpu_bench.py --dry-run
else
  timeout 420 "$PYBIN" benchmarks/gpu_bench.py --device cuda --images "$IMAGES" --vectors "$VECTORS"
fi
step "done"
