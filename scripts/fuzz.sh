#!/usr/bin/env bash
# fuzz.sh runs each Go fuzz target of the repository in turn for FUZZTIME
# (a duration such as 60s, or a count such as 1000000x) and prints, per
# target, the executions reached, the time taken and the executions per
# second. FUZZ (a regexp) picks targets by name. A target that finds a
# failing input stops; the others still run, and the run fails at the end.
# go test writes the input to the package's testdata/fuzz/<Target>/ (commit
# it: it then runs as a test in make test).
# The targets that need PostgreSQL get one through scripts/with-postgres.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-60s}
FUZZ=${FUZZ:-.}
GO=${GO:-go}

# package:Target, in the order they run.
targets=(
  ./pkg/runtime:FuzzKafkaRecord
  ./pkg/runtime:FuzzHTTPEvent
  ./pkg/api:FuzzRequestDecoding
  ./pkg/api:FuzzAPIRequest
  ./config:FuzzSetting
  ./pkg/replies:FuzzParse
  ./pkg/replies:FuzzParseLong
)

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
summary=()
status=0
for t in "${targets[@]}"; do
  pkg=${t%%:*} name=${t##*:}
  [[ $name =~ $FUZZ ]] || continue
  echo "== $name ($pkg, $FUZZTIME)"
  start=$(date +%s)
  scripts/with-postgres.sh "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$logdir/$name.log"
  rc=${PIPESTATUS[0]}
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'execs: [0-9]*' "$logdir/$name.log" | tail -1 | cut -d' ' -f2)
  fuzzing=$(grep -o 'elapsed: [0-9hms.]*, execs' "$logdir/$name.log" | tail -1 | sed 's/elapsed: //; s/, execs//')
  result=ok
  if [[ $rc -ne 0 ]]; then result=FAILED status=1; fi
  summary+=("$(printf '%-22s %-10s %12s %10s %8s' "$name" "$result" "${execs:-0}" "${fuzzing:-?}" "${secs}s")")
done

echo
printf '%-22s %-10s %12s %10s %8s\n' target result execs fuzzing total
printf '%s\n' "${summary[@]}"
echo "(execs/s = execs / fuzzing time; the total includes building and the seed corpus)"
exit $status
