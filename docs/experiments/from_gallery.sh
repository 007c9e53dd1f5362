#!/usr/bin/env bash
# `faceapp train --from-gallery` on a gallery of LFW development people (docs/training.md, "Adapting to the gallery").
# A gallery of the first PEOPLE people of peopleDevTrain.txt with at least 8 images, SAMPLES images each (the first
# ones), on dlib-resnet; then training on its samples (2 of each held out) and a report against 500 LFW strangers.
# Usage: docs/experiments/from_gallery.sh [LFW_DIR] [WORK_DIR] [extra faceapp train options...]
set -euo pipefail
lfw="${1:-../shared/data/lfw}"
work="${2:-/tmp/faceapp-from-gallery}"
shift $(( $# > 2 ? 2 : $# ))
people="${PEOPLE:-20}"
samples="${SAMPLES:-6}"
mkdir -p "$work"
db="$work/gallery.sqlite3"
rm -f "$db"
awk 'NR > 1 && $2 >= 8 { print $1 }' "$lfw/peopleDevTrain.txt" | head -n "$people" | while read -r name; do
    mapfile -t files < <(ls "$lfw/$name"/*.jpg | head -n "$samples")
    faceapp --db "$db" --model dlib-resnet enroll "${name//_/ }" "${files[@]}" >/dev/null
done
faceapp --db "$db" people list | tail -n 3
faceapp train --from-gallery --db "$db" --out "${OUT:-lfw-gallery}" --strangers "$lfw" "$@"
