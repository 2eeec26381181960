#!/usr/bin/env bash
# How the test TLS files were made (OpenSSL 3.0, 2026-12-02): a throw-away "hospital" CA and a
# certificate for 127.0.0.1/localhost signed by it, valid for 100 years. Test-only keys: they
# protect nothing. tests/pacs.rs puts a TLS front (rustls) with server.pem/server.key before
# Orthanc and hands ca.pem to radlens as RADLENS_PACS_CA.
set -euo pipefail
cd "$(dirname "$0")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
    -subj "/CN=radlens test hospital CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout server.key -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 36500 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n') \
    -out server.pem
rm -f server.csr ca.srl ca.key
