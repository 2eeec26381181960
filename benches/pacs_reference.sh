#!/usr/bin/env bash
# PACS retrieve benchmark, side by side in one run against one local Orthanc: a 300-slice CT
# series (the shared CT's 3 slices copied 100 times with new SOP Instance UIDs by dcmtk's
# dcmodify) retrieved by
#   radlens pacs get over WADO-RS and over C-GET,
#   dcmtk getscu (C-GET),
#   Python dicomweb-client retrieve_series (WADO-RS), when PYTHON names an interpreter that has it
#     (python3 -m venv V && V/bin/pip install dicomweb-client; PYTHON=V/bin/python).
# Each is run RUNS times (default 3) into a fresh folder; the median wall time and MB/s are printed.
#   benches/pacs_reference.sh [path/to/radlens]   (default target/release/radlens)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
radlens="${1:-$here/target/release/radlens}"
runs="${RUNS:-3}"
data="${RADLENS_DATA:-$here/../shared/data}/dicom/series/ct_3slice_with_seg"
for tool in /usr/sbin/Orthanc getscu dcmodify curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt install orthanc orthanc-dicomweb dcmtk curl)" >&2; exit 1; }
done
[ -x "$radlens" ] || { echo "no radlens binary at $radlens (cargo build --release)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'kill "$orthanc_pid" 2>/dev/null; wait "$orthanc_pid" 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
http=$(port); dicom=$(port)
cat > "$work/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$work/db", "IndexDirectory": "$work/db",
  "HttpPort": $http, "DicomPort": $dicom, "DicomAet": "ORTHANC", "DicomCheckCalledAet": false,
  "RemoteAccessAllowed": false, "AuthenticationEnabled": true, "RegisteredUsers": {"bench": "pw"},
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/"}, "DicomAlwaysAllowGet": true,
  "DicomModalities": {"radlens": ["RADLENS", "127.0.0.1", 11112]},
  "StorageCompression": false, "OrthancExplorerEnabled": false }
JSON
/usr/sbin/Orthanc "$work/orthanc.json" > "$work/orthanc.log" 2>&1 &
orthanc_pid=$!
until curl -sf -u bench:pw "http://127.0.0.1:$http/system" >/dev/null; do sleep 0.2; done

mkdir "$work/series"
n=0
for copy in $(seq 1 100); do
    for f in 01 02 03; do
        n=$((n + 1))
        cp "$data/$f.dcm" "$work/series/$n.dcm"
    done
done
dcmodify -nb -gin "$work"/series/*.dcm >/dev/null
for f in "$work"/series/*.dcm; do
    curl -sf -u bench:pw -H "Expect:" --data-binary "@$f" "http://127.0.0.1:$http/instances" >/dev/null
done
study=1.2.392.200103.20080913.113635.0.2009.6.22.21.43.10.22941.1
series=1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1
bytes=$(du -cb "$work"/series/*.dcm | tail -1 | cut -f1)
echo "series: 300 CT instances, $((bytes / 1000000)) MB; Orthanc $(/usr/sbin/Orthanc --version | head -1)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {   # name, command (with OUT standing for the output folder)
    local name="$1"; shift
    local times=()
    for r in $(seq 1 "$runs"); do
        local out="$work/out-$name-$r"; mkdir -p "$out"
        local start end
        start=$(date +%s.%N)
        "${@//OUT/$out}" >/dev/null 2>&1
        end=$(date +%s.%N)
        local got; got=$(find "$out" -type f -name '*' | wc -l)
        [ "$got" -ge 300 ] || { echo "$name: only $got files" >&2; exit 1; }
        times+=("$(echo "$end - $start" | bc -l)")
    done
    local m; m=$(printf '%s\n' "${times[@]}" | median)
    printf '%-28s %7.3f s  %7.1f MB/s\n' "$name" "$m" "$(echo "$bytes / 1000000 / $m" | bc -l)"
}
time_runs "radlens WADO-RS" "$radlens" pacs get "http://bench:pw@127.0.0.1:$http/dicom-web" --study "$study" --series "$series" --out OUT
time_runs "radlens C-GET" "$radlens" pacs get "dimse://ORTHANC@127.0.0.1:$dicom" --study "$study" --series "$series" --out OUT
time_runs "dcmtk getscu C-GET" getscu -S -aet RADLENS -aec ORTHANC -od OUT -k QueryRetrieveLevel=SERIES -k "StudyInstanceUID=$study" -k "SeriesInstanceUID=$series" 127.0.0.1 "$dicom"
if [ -n "${PYTHON:-}" ]; then
    cat > "$work/dw.py" <<PY
import sys
from requests import Session
from requests.auth import HTTPBasicAuth
from dicomweb_client.api import DICOMwebClient
s = Session(); s.auth = HTTPBasicAuth("bench", "pw")
c = DICOMwebClient(url="http://127.0.0.1:$http/dicom-web", session=s)
for i, ds in enumerate(c.iter_series("$study", "$series")):
    ds.save_as(f"{sys.argv[1]}/{i}.dcm")
PY
    time_runs "dicomweb-client WADO-RS" "$PYTHON" "$work/dw.py" OUT
else
    echo "dicomweb-client: skipped (set PYTHON to an interpreter with dicomweb-client)"
fi
