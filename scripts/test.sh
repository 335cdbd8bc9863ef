#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite twice: on the NumPy backend, then on Vulkan through
# lavapipe (Mesa's CPU driver) with the Khronos validation layer on.
#   usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || ! ls /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers vulkan-validationlayers libvulkan1 >/dev/null
  else
    echo "note: lavapipe or the validation layer is missing (install mesa-vulkan-drivers vulkan-validationlayers);" \
         "the Vulkan pass will be skipped" >&2
  fi
fi

python -m pip install -q -e ".[dev]"
if [ -f scripts/test-extras.txt ] && [ "${GRILLY_SKIP_EXTRAS:-0}" != 1 ]; then
  python -m pip install -q -r scripts/test-extras.txt
  # SpikingJelly's own requirements pull torchvision/torchaudio builds that do not load beside CPU torch
  python -m pip install -q --no-deps spikingjelly loguru
fi

python scripts/compile_shaders.py --check

echo "=== tests on the NumPy backend ==="
GRILLY_BACKEND=numpy python -m pytest tests -p no:cacheprovider "$@"

if ALLOW_CPU_VULKAN=1 python -c "import sys, grilly; sys.exit(0 if grilly.VULKAN_AVAILABLE else 1)"; then
  echo "=== tests on the Vulkan backend (lavapipe, validation layer on) ==="
  GRILLY_BACKEND=vulkan ALLOW_CPU_VULKAN=1 GRILLY_VK_VALIDATION=1 python -m pytest tests -p no:cacheprovider "$@"
else
  echo "no Vulkan device: the Vulkan pass cannot run" >&2
  exit 1
fi
