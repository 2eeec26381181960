#!/usr/bin/env bash
# Provision libtorch 2.13.0 (the version tch 0.26 expects) into .deps/libtorch, from PyPI.
#
#   packaging/provision-libtorch.sh          CPU-only libtorch (default, ~460 MB on disk)
#   packaging/provision-libtorch.sh cuda     full CUDA build (needs an NVIDIA GPU to be useful, ~4.7 GB)
#
# Idempotent: does nothing when the requested variant of the right version is already there.
# .cargo/config.toml points LIBTORCH at .deps/libtorch; build.rs sets the rpath, so nothing else
# needs to be exported. Also provisions cmake from PyPI (needed to build the JPEG-LS codec) when the
# machine has none.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
variant="${1:-cpu}"
case "$variant" in cpu|cuda) ;; *) echo "usage: $0 [cpu|cuda]" >&2; exit 2 ;; esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
dest="$deps/libtorch"
python="${PYTHON:-python3}"

die() { echo "provision-libtorch: $*" >&2; exit 1; }

# Runs pip quietly; on failure shows pip's own last words, then dies with $1.
pip_or_die() {
    local what="$1"; shift
    local log
    log="$(mktemp)"
    if ! "$python" -m pip "$@" >"$log" 2>&1; then
        tail -n 3 "$log" | sed 's/^/  pip: /' >&2
        rm -f "$log"
        die "$what"
    fi
    rm -f "$log"
}

command -v "$python" >/dev/null 2>&1 || die "no '$python' found; install Python 3 with pip (or set PYTHON)"
"$python" -m pip --version >/dev/null 2>&1 || die "'$python -m pip' does not work; install pip (apt install python3-pip)"

# --- cmake (charls, the JPEG-LS codec, builds with it) -------------------------------------------
# The build always uses .deps/cmake/bin/cmake (see .cargo/config.toml): a link to the system's
# cmake when there is one, else cmake from PyPI.
if [ ! -x "$deps/cmake/bin/cmake" ]; then
    mkdir -p "$deps/cmake/bin"
    if command -v cmake >/dev/null 2>&1; then
        ln -sf "$(command -v cmake)" "$deps/cmake/bin/cmake"
    else
        echo "provision-libtorch: installing cmake from PyPI into $deps/cmake"
        pip_or_die "pip could not install cmake from PyPI (network down or PyPI unreachable?)" \
            install --disable-pip-version-check --root-user-action=ignore --target "$deps/cmake/py" "cmake>=3.20,<4"
        # The wheel carries a real cmake binary (with its share/ beside it); link to it.
        [ -x "$deps/cmake/py/cmake/data/bin/cmake" ] || die "the cmake wheel has no cmake binary"
        ln -sf "$deps/cmake/py/cmake/data/bin/cmake" "$deps/cmake/bin/cmake"
    fi
fi

stamp="$dest/build-version"
variant_stamp="$dest/variant"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TORCH_VERSION" ] \
    && [ -f "$variant_stamp" ] && [ "$(cat "$variant_stamp")" = "$variant" ] \
    && [ -f "$dest/lib/libtorch_cpu.so" ]; then
    exit 0
fi

echo "provision-libtorch: fetching libtorch $TORCH_VERSION ($variant) from PyPI into $dest"
work="$(mktemp -d "$deps/.download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
staging="$work/libtorch"
mkdir -p "$staging/lib"

if [ "$variant" = cpu ]; then
    # The PyPI wheel is a CUDA build, but libtorch_cpu + libc10 run on CPU alone given the CUDA
    # runtime and CUPTI sonames they link against (see shared/STACK.md).
    pip_or_die "pip download of torch==$TORCH_VERSION failed (network down or PyPI unreachable?)" \
        download --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
        --platform manylinux_2_17_x86_64 --dest "$work/wheels" \
        "torch==$TORCH_VERSION" "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-cupti==$CUPTI_VERSION"
    "$python" - "$work/wheels" "$staging" <<'PY' || die "could not unpack the downloaded wheels"
import pathlib, shutil, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wanted_libs = {"libc10.so", "libtorch_cpu.so", "libgomp.so.1"}
for whl in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        for name in z.namelist():
            p = pathlib.PurePosixPath(name)
            if name.startswith("torch/include/") and not name.endswith("/"):
                target = out / "include" / p.relative_to("torch/include")
            elif p.parent.name == "lib" and (p.name in wanted_libs or p.name.startswith(("libgomp", "libcudart.so.13", "libcupti.so.13"))):
                target = out / "lib" / p.name
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
    # torch-sys always links -ltorch: give it an empty stand-in with the right soname.
    gcc -shared -o "$staging/lib/libtorch.so" -Wl,-soname,libtorch.so -x c /dev/null \
        || die "gcc could not build the libtorch.so stand-in (install gcc)"
else
    pip_or_die "pip install torch==$TORCH_VERSION failed (network down or PyPI unreachable?)" \
        install --disable-pip-version-check --root-user-action=ignore --target "$work/site" "torch==$TORCH_VERSION"
    cp -a "$work/site/torch/include" "$staging/include"
    cp -a "$work/site/torch/lib/." "$staging/lib/"
    # CUDA libraries from the nvidia-* wheels, so one rpath finds everything.
    find "$work/site/nvidia" -name '*.so*' -path '*/lib/*' -exec cp -a {} "$staging/lib/" \;
fi

[ -f "$staging/lib/libtorch_cpu.so" ] || die "libtorch_cpu.so missing from the downloaded wheel"
echo "$TORCH_VERSION" > "$staging/build-version"
echo "$variant" > "$staging/variant"
rm -rf "$dest.old"
[ -d "$dest" ] && mv "$dest" "$dest.old"
mv "$staging" "$dest"
rm -rf "$dest.old"
echo "provision-libtorch: libtorch $TORCH_VERSION ($variant) ready in $dest"
