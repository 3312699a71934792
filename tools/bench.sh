#!/bin/sh
# Benchmark of `blotquant quantify` on generated 16-bit scans (public tools
# only: GNU time). Prints, per size, the median wall time and peak memory of
# the whole process over RUNS runs (the analysis: --no-overlay), and the
# same for reading the TIFF alone (`blotquant info`), and the ratio between
# the two. If ImageJ (Debian packages imagej and xvfb) is installed, its
# rolling-ball subtraction is timed on the same file as a peer (3 runs).
# Then the overlays: `quantify` of a generated 20-lane 4096x3072 scan with
# and without its overlay, and `batch` on samples/ (36 scans) with and
# without the overlays of every scan; the differences are the drawing.
#   usage: tools/bench.sh [RUNS]      (default 7; run from a build in build/)
set -e
cd "$(dirname "$0")/.."
RUNS=${1:-7}
BIN=build/blotquant
GEN=build/blotgen
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# time_cmd OUT CMD...: RUNS runs (after one warm-up), appends "seconds kb"
# lines: wall time from the clock in nanoseconds around the whole process,
# peak resident memory from GNU time.
time_cmd() {
    out=$1; shift
    "$@" >/dev/null 2>&1 || true
    i=0
    while [ $i -lt "$RUNS" ]; do
        t0=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$TMP/t" "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo "$(echo "($t1 - $t0) / 1000000000" | bc -l) $(cat "$TMP/t")" >>"$out"
        i=$((i + 1))
    done
}

printf '%-11s %-22s %10s %10s\n' size command "median ms" "peak MB"
for size in 2048x1536 4096x3072; do
    w=${size%x*}; h=${size#*x}
    "$GEN" --random --seed 7 --width "$w" --height "$h" -o "$TMP/scan.tif" >/dev/null
    : >"$TMP/q"; : >"$TMP/r"
    time_cmd "$TMP/q" "$BIN" quantify -q --no-overlay "$TMP/scan.tif" -o "$TMP/out"
    time_cmd "$TMP/r" "$BIN" info "$TMP/scan.tif"
    qm=$(cut -d' ' -f1 "$TMP/q" | median); qk=$(cut -d' ' -f2 "$TMP/q" | median)
    rm_=$(cut -d' ' -f1 "$TMP/r" | median); rk=$(cut -d' ' -f2 "$TMP/r" | median)
    printf '%-11s %-22s %10.0f %10.0f\n' "$size" "quantify" "$(echo "$qm*1000" | bc -l)" "$(echo "$qk/1024" | bc -l)"
    printf '%-11s %-22s %10.0f %10.0f\n' "$size" "read TIFF only (info)" "$(echo "$rm_*1000" | bc -l)" "$(echo "$rk/1024" | bc -l)"
    printf '%-11s %-22s %10.1f\n' "$size" "ratio quantify/read" "$(echo "$qm/$rm_" | bc -l)"
    grep time "$TMP/out/scan.log.txt" | sed "s/^/$size   stages of the last run: /"
    # Peer: ImageJ 1.53 (Debian's imagej) under a virtual display (its
    # command lookup builds menus even in batch mode). The macro times the
    # rolling-ball subtraction itself (radius 50, ImageJ's default).
    if [ -f /usr/share/java/ij.jar ] && command -v xvfb-run >/dev/null 2>&1; then
        cat >"$TMP/rb.ijm" <<MACRO
open("$TMP/scan.tif");
t = getTime();
run("Subtract Background...", "rolling=50");
print("ms " + (getTime() - t));
MACRO
        : >"$TMP/ij"
        i=0
        while [ $i -lt 3 ]; do
            xvfb-run -a java -Xmx4g -jar /usr/share/java/ij.jar -batch "$TMP/rb.ijm" 2>/dev/null |
                awk '/^ms /{print $2/1000}' >>"$TMP/ij"
            i=$((i + 1))
        done
        im=$(median <"$TMP/ij")
        printf '%-11s %-22s %10.0f   (ImageJ rolling ball alone / blotquant whole run: %.1f)\n' \
            "$size" "ImageJ rolling ball" "$(echo "$im*1000" | bc -l)" "$(echo "$im/$qm" | bc -l)"
    fi
done

# The overlay: the same analysis with and without drawing it.
ms() { cut -d' ' -f1 "$1" | median | awk '{printf "%.0f", $1 * 1000}'; }
mb() { cut -d' ' -f2 "$1" | median | awk '{printf "%.0f", $1 / 1024}'; }
"$GEN" --random --seed 7 --strips 1 --lanes 20 --width 4096 --height 3072 \
    -o "$TMP/lanes20.tif" >/dev/null
: >"$TMP/a"; : >"$TMP/o"
time_cmd "$TMP/a" "$BIN" quantify -q --no-overlay "$TMP/lanes20.tif" -o "$TMP/ov"
time_cmd "$TMP/o" "$BIN" quantify -q "$TMP/lanes20.tif" -o "$TMP/ov"
printf '%-11s %-22s %10s %10s\n' 4096x3072 "quantify, 20 lanes" "$(ms "$TMP/a")" "$(mb "$TMP/a")"
printf '%-11s %-22s %10s %10s\n' 4096x3072 "  with its overlay" "$(ms "$TMP/o")" "$(mb "$TMP/o")"
printf '%-11s %-22s %10s   (%s px PNG, %s kB)\n' 4096x3072 "  overlay alone" \
    "$(($(ms "$TMP/o") - $(ms "$TMP/a")))" \
    "$(od -An -tu1 -j16 -N8 "$TMP/ov/lanes20.overlay.png" |
        awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}')" \
    "$(($(wc -c <"$TMP/ov/lanes20.overlay.png") / 1024))"

# batch on the sample experiment: numbers only, with the overlays of its 36
# scans (OUT/experiment/scans), and with everything (charts of 4 targets,
# the report page, index.html).
: >"$TMP/b"; : >"$TMP/bo"; : >"$TMP/br"
time_cmd "$TMP/b" "$BIN" batch samples -o "$TMP/batch" -q --no-overlay --no-report
time_cmd "$TMP/bo" "$BIN" batch samples -o "$TMP/batch" -q --no-report
time_cmd "$TMP/br" "$BIN" batch samples -o "$TMP/batch" -q
printf '%-11s %-22s %10s %10s\n' samples "batch (36 scans)" "$(ms "$TMP/b")" "$(mb "$TMP/b")"
printf '%-11s %-22s %10s %10s\n' samples "  with 36 overlays" "$(ms "$TMP/bo")" "$(mb "$TMP/bo")"
printf '%-11s %-22s %10s   (%s ms per overlay, on %s processors)\n' samples \
    "  overlays alone" "$(($(ms "$TMP/bo") - $(ms "$TMP/b")))" \
    "$(( ($(ms "$TMP/bo") - $(ms "$TMP/b")) / 36 ))" "$(nproc)"
printf '%-11s %-22s %10s %10s\n' samples "  with reports too" "$(ms "$TMP/br")" "$(mb "$TMP/br")"
printf '%-11s %-22s %10s   (4 targets: 8 charts, a 2000 px report page, index.html)\n' samples \
    "  reports alone" "$(($(ms "$TMP/br") - $(ms "$TMP/bo")))"

# The workflow's stages (workflow/Snakefile sizes its Slurm resources from
# these): one blot of three 4096x3072 scans, the experiment stage of four
# such blots from their saved results (with the report), and the summary.
"$(dirname "$BIN")/expgen" -o "$TMP/bigexp" --width 4096 --height 3072 \
    --replicates 1 --seed 3 >/dev/null
for b in "pSTAT5 rep1" "pAKT rep1" "pERK rep1"; do
    "$BIN" blot "$TMP/bigexp" "$b" -o "$TMP/wf" -q
done
: >"$TMP/wb"; : >"$TMP/we"; : >"$TMP/ws"
time_cmd "$TMP/wb" "$BIN" blot "$TMP/bigexp" "pSTAT3 rep1" -o "$TMP/wf" -q
time_cmd "$TMP/we" "$BIN" experiment "$TMP/bigexp" -o "$TMP/wf" \
    --from "$TMP/wf/blots" -q
time_cmd "$TMP/ws" "$BIN" summary "$TMP/bigexp" -o "$TMP/wf" -q
printf '%-11s %-22s %10s %10s\n' 4096x3072 "workflow: blot stage" "$(ms "$TMP/wb")" "$(mb "$TMP/wb")"
printf '%-11s %-22s %10s %10s\n' 4096x3072 "  experiment stage" "$(ms "$TMP/we")" "$(mb "$TMP/we")"
printf '%-11s %-22s %10s %10s\n' 4096x3072 "  summary stage" "$(ms "$TMP/ws")" "$(mb "$TMP/ws")"
