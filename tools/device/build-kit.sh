#!/usr/bin/env bash
# Builds the kit that runs duel's GPU worker bench on a lent device machine,
# which reaches no npm registry and whose image is not said to hold Node.js:
#
#   KIT/gpu-bench.mjs      tools/device/gpu-bench.ts and the GAN libs, one ESM bundle
#   KIT/node_modules/      what the bundle loads at run time: tfjs-backend-wasm's
#                          .wasm binaries and the `webgpu` package (Dawn, linux-x64, xz)
#   KIT/node.xz            this machine's Node binary (skipped with --no-node)
#   KIT/gl/*.deb           the Vulkan/EGL loaders Dawn needs (skipped with --no-gl)
#   KIT/COMMIT             the commit the bundle was built from
#
# Usage: tools/device/build-kit.sh [--out DIR] [--no-node] [--no-gl]
# Default DIR: .device/kit (ignored by git; name it in the device tool's `carry`).
# tools/device/README.md says how to run it there.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=.device/kit
node_too=1
gl_too=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --no-node) node_too=0; shift ;;
    --no-gl) gl_too=0; shift ;;
    *) echo "build-kit: unknown flag $1" >&2; exit 2 ;;
  esac
done

rm -rf "$out"
mkdir -p "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist" "$out/node_modules/webgpu/dist/linux-x64"

# ESM, so that import.meta.url (the wasm registrar's createRequire) keeps its
# meaning; the banner gives the bundled CommonJS code its require and __dirname.
# tfjs-node(-gpu) is not installed here, so the tensorflow backend reports itself
# unavailable in the kit; `webgpu` stays outside the bundle for its native addon.
npx --no-install esbuild tools/device/gpu-bench.ts --bundle --platform=node --target=node20 --format=esm \
  --outfile="$out/gpu-bench.mjs" --tsconfig=tsconfig.base.json --log-level=error \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="import { createRequire as __duelCreateRequire } from 'node:module'; import { fileURLToPath as __duelFileURLToPath } from 'node:url'; const require = __duelCreateRequire(import.meta.url); const __filename = __duelFileURLToPath(import.meta.url); const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));"

wasm=node_modules/@tensorflow/tfjs-backend-wasm
cp "$wasm/package.json" "$out/$wasm/"
cp "$wasm"/dist/*.wasm "$out/$wasm/dist/"

webgpu=node_modules/webgpu
cp "$webgpu/package.json" "$webgpu/index.js" "$out/$webgpu/"
xz -T0 -6 -c "$webgpu/dist/linux-x64/dawn.node" > "$out/$webgpu/dist/linux-x64/dawn.node.xz"

if [ "$node_too" = 1 ]; then
  xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
fi

if [ "$gl_too" = 1 ]; then
  # The device README's recipe: Debian's loaders for amd64, unpacked there with dpkg -x.
  mkdir -p "$out/gl" /tmp/duel-apt-amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/duel-apt-amd64 -oAPT::Sandbox::User=root)
  apt-get "${o[@]}" update -qq
  (cd "$out/gl" && apt-get "${o[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

git rev-parse --short HEAD > "$out/COMMIT" 2>/dev/null || echo unknown > "$out/COMMIT"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then sed -i 's/$/+dirty/' "$out/COMMIT"; fi
echo "build-kit: $out, $(du -sh "$out" | cut -f1) (commit $(cat "$out/COMMIT"))"
