#!/bin/sh
# Fetch the diabetes regression data set (Efron et al. 2004, "Least Angle
# Regression": 442 patients, 10 baseline variables, disease progression one
# year later) that Debian ships inside python3-sklearn, and convert it to the
# CSV `tinyq train fr-regressor --csv` reads.
#
#   scripts/fetch_diabetes.sh OUT.csv
#
# Uses the installed package's files when python3-sklearn is installed;
# otherwise downloads only the .deb (apt-get download, no install and none of
# its dependencies) into a temp folder and extracts the two data files.
set -eu
out=${1:?usage: scripts/fetch_diabetes.sh OUT.csv}
here=$(cd "$(dirname "$0")" && pwd)
data=/usr/lib/python3/dist-packages/sklearn/datasets/data
tmp=""
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
if [ ! -f "$data/diabetes_data_raw.csv.gz" ]; then
    tmp=$(mktemp -d /tmp/tq_diabetes_XXXXXX)
    # apt's sandbox user must be able to write the download folder
    chmod 0777 "$tmp"
    (cd "$tmp" && apt-get download -q python3-sklearn >/dev/null)
    dpkg-deb -x "$tmp"/python3-sklearn_*.deb "$tmp/x"
    data="$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data"
fi
python3 "$here/diabetes_to_csv.py" "$data/diabetes_data_raw.csv.gz" \
    "$data/diabetes_target.csv.gz" "$out"
