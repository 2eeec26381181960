#!/usr/bin/env bash
# Everything radlens needs on a fresh Debian/Ubuntu machine with Rust and Python 3 + pip:
#   - headless Vulkan (Mesa's lavapipe) so the viewer and its tests render without a GPU,
#   - dicom3tools, whose dciodvfy checks the DICOM objects radlens writes (a test runs it),
#   - Orthanc and its DICOMweb plugin, the real PACS the tests talk to, and dcmtk (getscu, the
#     PACS benchmark's reference),
#   - libtorch 2.13.0 (and cmake if missing) via packaging/provision-libtorch.sh.
# Idempotent and quick when everything is there. `packaging/setup.sh cuda` provisions the CUDA
# libtorch instead of the CPU one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(libvulkan1 mesa-vulkan-drivers dicom3tools orthanc orthanc-dicomweb dcmtk)
if command -v dpkg >/dev/null 2>&1; then
    missing=()
    for p in "${packages[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1; then
                sudo="sudo"
            else
                echo "setup: cannot install ${missing[*]} (not root, no sudo); GPU-less rendering and the GUI tests need them" >&2
            fi
        fi
        if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
            echo "setup: installing ${missing[*]} (headless Vulkan for rendering without a GPU; dciodvfy for the DICOM conformance tests; Orthanc + dcmtk for the PACS tests)"
            $sudo apt-get update -qq || echo "setup: apt-get update failed; trying the install anyway" >&2
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
                || { echo "setup: apt-get could not install ${missing[*]}" >&2; exit 1; }
        fi
    fi
fi

exec "$here/provision-libtorch.sh" "$@"
