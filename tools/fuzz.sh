#!/bin/sh
# Fuzzes blotquant with libFuzzer (README: "Fuzzing").
#   tools/fuzz.sh [SECONDS [TARGET...]]
#   tools/fuzz.sh cov [TARGET...]
# Builds the fuzz targets with clang in build-fuzz/ (ASan + UBSan), seeds
# each from small generated files (and, if present, the small files of
# ../shared/conformance), runs each TARGET for SECONDS (default 600; targets:
# tiff png manifest layoutfile pipeline blotfile), then minimises what it
# found into tests/fuzz/corpus/TARGET/ (-merge=1) and copies every crash,
# timeout, leak or out-of-memory input into tests/fuzz/crashers/TARGET/.
# The test suite replays both folders (ctest -R fuzz_). Logs and final figures:
# build-fuzz/logs/TARGET.log and build-fuzz/logs/summary.txt.
# `cov` instead replays the saved corpus and crashers through a clang
# source-coverage build (build-cov/) and prints the line coverage of each
# target's source files (llvm-cov; LLVM_SUFFIX default -14).
# Environment: CC (default clang-14), FUZZ_JOBS (build jobs, default 2),
# FUZZ_NICE (default 10), FUZZ_FORK (fuzzing processes per target, sharing
# one corpus: libFuzzer's -fork=N; default 1, one process).
set -e
cd "$(dirname "$0")/.."
MODE=fuzz
if [ "$1" = cov ]; then
    MODE=cov && shift
    set -- 0 "$@"
fi
SECONDS_EACH=${1:-600}
[ $# -gt 0 ] && shift
TARGETS=${*:-tiff png manifest layoutfile pipeline blotfile}
CC=${CC:-clang-14}
NICE="nice -n ${FUZZ_NICE:-10}"
B=build-fuzz
SHARED=../shared/conformance

for t in $TARGETS; do
    case $t in
    tiff | png | manifest | layoutfile | pipeline | blotfile) ;;
    *) echo "fuzz.sh: unknown target '$t'" >&2 && exit 2 ;;
    esac
done

# ---- line coverage of the saved inputs ------------------------------------
if [ $MODE = cov ]; then
    S=${LLVM_SUFFIX--14}
    CC=$CC $NICE cmake -S . -B build-cov -DBQ_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
        -DCMAKE_EXE_LINKER_FLAGS=-fprofile-instr-generate >/dev/null
    $NICE cmake --build build-cov -j"${FUZZ_JOBS:-2}" \
        --target $(for t in $TARGETS; do printf 'fuzz_replay_%s ' "$t"; done) \
        >/dev/null
    for t in $TARGETS; do
        case $t in
        tiff) files="src/load.c src/load_tiff.c" ;;
        png) files="src/load.c src/load_png.c" ;;
        manifest) files="src/manifest.c" ;;
        layoutfile) files="src/layoutfile.c src/analysis.c" ;;
        pipeline) files="src/load.c src/load_tiff.c src/load_png.c
            src/analysis.c src/prepare.c src/background.c src/fft.c
            src/layout.c src/bands.c src/quantify.c" ;;
        esac
        rm -rf build-cov/prof/$t && mkdir -p build-cov/prof/$t
        LLVM_PROFILE_FILE=build-cov/prof/$t/%p.profraw $NICE \
            build-cov/tests/fuzz/fuzz_replay_$t tests/fuzz/corpus/$t \
            tests/fuzz/crashers/$t | tail -1
        llvm-profdata$S merge -o build-cov/prof/$t.profdata \
            build-cov/prof/$t/*.profraw
        echo "== $t: line coverage"
        # shellcheck disable=SC2086
        llvm-cov$S report build-cov/tests/fuzz/fuzz_replay_$t \
            -instr-profile=build-cov/prof/$t.profdata $files
    done
    exit 0
fi

# ---- build ---------------------------------------------------------------
CC=$CC $NICE cmake -S . -B $B -DBQ_FUZZ=ON -DBQ_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# blotgen makes the image seeds; it carries the fuzz instrumentation too,
# which is harmless.
$NICE cmake --build $B -j"${FUZZ_JOBS:-2}" --target blotgen \
    $(for t in $TARGETS; do printf 'fuzz_%s ' "$t"; done) >/dev/null
mkdir -p $B/logs

# ---- seeds ---------------------------------------------------------------
# Small images: every storage variant the loaders handle.
gen() { # gen DIR NAME blotgen-options...
    d=$1 && n=$2 && shift 2
    $B/blotgen -o "$d/$n" --seed 3 "$@" >/dev/null ||
        echo "fuzz.sh: seed $n not made" >&2
}
seed_images() { # seed_images DIR tif|png WIDTH HEIGHT
    d=$1 && e=$2 && w=$3 && h=$4
    s="--width $w --height $h --lanes 3 --rows 1"
    gen "$d" "g16.$e" $s
    gen "$d" "g8.$e" $s --bits 8
    gen "$d" "rgb8.$e" $s --bits 8 --rgb
    gen "$d" "dark.$e" $s --dark --random
    if [ "$e" = tif ]; then
        gen "$d" f32.tif $s --bits 32
        gen "$d" lzw.tif $s --compression lzw
        gen "$d" deflate.tif $s --compression deflate --rgb
        gen "$d" packbits.tif $s --bits 8 --compression packbits
        gen "$d" tiled.tif $s --tile 16
        gen "$d" mm.tif $s --big-endian
        gen "$d" white.tif $s --min-is-white
    else
        gen "$d" rgb16.png $s --rgb
    fi
}
# Small files of the shared decoder test corpora, as seeds only: the merge
# below drops any that survive unchanged.
seed_shared() { # seed_shared DIR tiff|png
    [ -d "$SHARED/$2" ] || return 0
    find "$SHARED/$2" -type f -size -32k \( -iname '*.tif' -o \
        -iname '*.tiff' -o -iname '*.png' \) | while read -r f; do
        cp "$f" "$1/shared-$(echo "$f" | cksum | cut -d' ' -f1)"
    done
}
seed_manifests() {
    d=$1
    sed 's#rep[23]/#rep1/#' samples/experiment/blotquant.ini >"$d/sample.ini"
    cat >"$d/small.ini" <<'EOF'
[experiment]
name = small
control = 2
ladder_kda = 100 50 25
[lanes]
1 = marker
2 = vehicle
3 = drug 10nM
4 = drug 1 uM
5 = rhTPO 50 ng/mL
6 = -
[blot one]
target = ERK1/2
replicate = 2
phospho = a.tif page 2
total = b.tif
loading = c.tif
band = row 2
doublet = each
[blot two]
target = STAT3
phospho = a.tif
total = b.tif
band = y 40.5
EOF
    printf '[blot x]\ntarget = A\nphospho = a.tif\ntotal = b.tif\nband = strongest\n' \
        >"$d/min.ini"
}
seed_layouts() {
    d=$1
    printf 'lane,band,x,y,width,height\n1,,4,2,10,40\n1,1,4,6,10,5\n2,1,20,6,10,5\n' \
        >"$d/boxes.csv"
    printf '# comment\n1,,0,0,64,48\n2,,30.5,0,8,48\n' >"$d/lanes.csv"
    printf '3,2,60,40,20,20\n1,1,0,0,1e6,1\n' >"$d/edges.csv"
}

# ---- run -----------------------------------------------------------------
: >$B/logs/summary.txt
for t in $TARGETS; do
    work=$B/corpus/$t
    seeds=$B/seeds/$t
    rm -rf "$seeds" $B/artifacts/$t
    mkdir -p "$work" "$seeds" $B/artifacts/$t tests/fuzz/corpus/$t \
        tests/fuzz/crashers/$t
    case $t in
    tiff) seed_images "$seeds" tif 48 32 && seed_shared "$seeds" tiff ;;
    png) seed_images "$seeds" png 48 32 && seed_shared "$seeds" png ;;
    pipeline) seed_images "$seeds" tif 64 48 &&
        gen "$seeds" p.png --width 64 --height 48 --rows 1 --random &&
        gen "$seeds" strips.tif --width 64 --height 96 --strips 2 \
            --lanes 3 --rows 1 --ladder --frame --hot 3 --bits 8 ;;
    manifest) seed_manifests "$seeds" ;;
    layoutfile) seed_layouts "$seeds" ;;
    esac
    case $t in
    manifest | layoutfile) maxlen=4096 ;;
    pipeline) maxlen=8192 ;; # small images (the corpus stays small too)
    *) maxlen=32768 ;;
    esac
    echo "== fuzz_$t: ${SECONDS_EACH}s"
    # libFuzzer exits non-zero on a finding; keep going to save it.
    fork=
    [ "${FUZZ_FORK:-1}" -gt 1 ] && fork="-fork=$FUZZ_FORK -ignore_crashes=1"
    # shellcheck disable=SC2086
    $NICE $B/tests/fuzz/fuzz_$t $fork -max_total_time="$SECONDS_EACH" -timeout=5 \
        -rss_limit_mb=2048 -max_len=$maxlen -print_final_stats=1 \
        -artifact_prefix=$B/artifacts/$t/ "$work" "$seeds" \
        tests/fuzz/corpus/$t tests/fuzz/crashers/$t \
        >$B/logs/$t.log 2>&1 || echo "fuzz_$t stopped with a finding"
    # Findings first: crash-*, timeout-*, leak-*, oom-* inputs.
    for f in $B/artifacts/$t/*; do
        [ -f "$f" ] && cp "$f" tests/fuzz/crashers/$t/
    done
    # Minimise: the smallest set of inputs with the same edges. Counting
    # edges only (not hit counts) keeps the saved corpus a few hundred kB;
    # the whole one stays in build-fuzz/corpus for the next run.
    rm -rf $B/merged/$t && mkdir -p $B/merged/$t
    $NICE $B/tests/fuzz/fuzz_$t -merge=1 -use_counters=0 -timeout=5 \
        -rss_limit_mb=2048 \
        $B/merged/$t "$work" "$seeds" tests/fuzz/corpus/$t \
        >$B/logs/$t.merge.log 2>&1 || {
        echo "fuzz_$t: the merge failed (see $B/logs/$t.merge.log)" >&2
        continue
    }
    # Drop inputs that are byte for byte a file of the shared corpora.
    if [ -d "$SHARED" ]; then
        find "$SHARED" -type f -size -32k -exec cksum {} + |
            cut -d' ' -f1,2 | sort -u >$B/shared.sums
        for f in $B/merged/$t/*; do
            [ -f "$f" ] || continue
            if grep -qx "$(cksum <"$f" | cut -d' ' -f1,2)" $B/shared.sums; then
                rm "$f"
            fi
        done
    fi
    rm -rf tests/fuzz/corpus/$t && mv $B/merged/$t tests/fuzz/corpus/$t
    # The figures: the last status line and the final stats.
    {
        printf '%s: ' "$t"
        grep -E '^#[0-9]+' $B/logs/$t.log | tail -1 | tr -s ' '
        grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' \
            $B/logs/$t.log | tr '\n' ' '
        printf 'corpus %s files %s bytes\n' \
            "$(ls tests/fuzz/corpus/$t | wc -l)" \
            "$(cat tests/fuzz/corpus/$t/* 2>/dev/null | wc -c)"
    } >>$B/logs/summary.txt
done
cat $B/logs/summary.txt
