#!/usr/bin/env bash
# Runs on the device machine, in the copy of the working tree, with the kit
# from tools/device/build-kit.sh carried as .device/kit. Unpacks what the kit
# holds, records the GPU and its drivers, and runs the GPU worker bench; every
# file lands in $OUT (or ./out when OUT is unset). Extra arguments go to
# gpu-bench (for example --models mlp --batches 1024).
set -uo pipefail
cd "$(dirname "$0")/../.."
kit=.device/kit
out="${OUT:-out}"
mkdir -p "$out"

unxz_to() { # FILE.xz DEST
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

main() {
  [ -d "$kit" ] || { echo "run.sh: no $kit; build it with tools/device/build-kit.sh and name it in carry"; return 2; }
  if [ -d "$kit/gl" ] && ls "$kit"/gl/*.deb >/dev/null 2>&1; then
    for f in "$kit"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  # The NVIDIA Vulkan driver lives under the driver's own mount on these machines.
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"

  dawn="$kit/node_modules/webgpu/dist/linux-x64/dawn.node"
  [ -f "$dawn" ] || unxz_to "$dawn.xz" "$dawn"

  node_bin=$(command -v node || true)
  if [ -z "$node_bin" ] || ! "$node_bin" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    [ -f "$kit/node.xz" ] || { echo "run.sh: no Node >= 20 here and the kit has none (built with --no-node)"; return 2; }
    unxz_to "$kit/node.xz" /tmp/duel-node && chmod +x /tmp/duel-node
    node_bin=/tmp/duel-node
  fi

  echo "== node $("$node_bin" --version), kit commit $(cat "$kit/COMMIT" 2>/dev/null)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$out/gpu.txt"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
  DUEL_COMMIT="$(cat "$kit/COMMIT" 2>/dev/null || echo unknown)" "$node_bin" "$kit/gpu-bench.mjs" --out "$out" "$@"
}

main "$@" 2>&1 | tee "$out/run.log"
exit "${PIPESTATUS[0]}"
