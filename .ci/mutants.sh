#!/usr/bin/env bash
# Planted bugs the test suite must catch. Run on demand (not in CI):
#
#   bash .ci/mutants.sh            # every mutation
#   bash .ci/mutants.sh NAME...    # some of them (names as printed)
#
# It copies the working tree (without target/, .venv/, .git/) to target/mutants/, checks
# that the copy passes the tests used below, then for each mutation: restores the copy,
# applies one small change by regular expression, runs the test binaries that should notice,
# and expects them to fail. One line per mutation: "caught", "MISSED", "pattern not found"
# (the code moved on: update the pattern; never a pass), or "does not compile" (the
# mutation is wrong). Exits non-zero unless every mutation was caught.
#
# Patterns are regular expressions over whole files (Python `re`, multiline), written to
# survive small edits (spacing, surrounding code) and to fail loudly when the code they
# target is gone. The build cache is shared: CARGO_TARGET_DIR defaults to the repo's target/.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
if [[ -z ${SMTPSCOPE_TEST_PYTHON:-} && -x $repo/.venv/bin/python ]]; then
  export SMTPSCOPE_TEST_PYTHON="$repo/.venv/bin/python"
fi
export RUST_BACKTRACE=0 NO_COLOR=1

# name | files (globs, relative to the repo) | pattern | replacement | test binaries | what it plants
MUTATIONS=(
  "scrub-fail-removed|src/engine/session/*.rs|self\.scrubber\.scrub_bytes\(\s*line\s*\)\s*;|let _ = &line;|credential_hygiene|Session::fail no longer masks the password in a malformed reply line before the error message cuts it short"
  "scrub-record-removed|src/engine/session/*.rs|self\.scrubber\.scrub_str\(\s*text\s*\)\s*;|let _ = &text;|credential_hygiene|Session::record no longer masks server text in Info, Warning, Error and Closed entries"
  "scrub-reply-removed|src/engine/session/*.rs|self\.scrubber\.scrub_bytes\(\s*&mut\s+line\.raw\s*\)|false|credential_hygiene|replies that echo the password are no longer masked"
  "verifier-lax|src/engine/transport.rs|if\s+self\.insecure\s*\{(\s*Ok\(ServerCertVerified::assertion\(\)\))|if true {\1|hostile_server run_peer|the certificate verifier accepts every certificate, as if --insecure were always given"
  "dot-stuffing-off|src/engine/message.rs|out\.push\(b'\.'\);(\s*self\.stats\.stuffed_lines\s*\+=\s*1;)|\1|run_peer fuzz_seeds|a body line that starts with a dot goes out unstuffed (the server drops the dot)"
  "catalog-phase-flipped|assets/replies.toml|(id = \"ses-access-denied\"\n(?:(?!\[\[reply\]\]).*\n)*?phase = )\"authorization\"|\1\"authentication\"|ses_fixtures|SES's 554 Access denied is filed under authentication instead of authorization"
  "login-535-misfiled|assets/replies.toml|(id = \"ses-credentials-invalid\"\n(?:(?!\[\[reply\]\]).*\n)*?after = )\[\"AUTH\", \"AUTH-RESPONSE\"\]|\1[\"AUTH\"]|run_peer|SES's 535 is recognised only as the answer to AUTH, not to the AUTH LOGIN password line"
  "metrics-help-dropped|src/engine/metrics.rs|let _ = writeln!\(self\.out, \"# HELP \{name\} \{help\}\"\);|let _ = &help;|probe_metrics|probe metrics lose their HELP lines (promtool check metrics must object)"
  "probe-phase-flipped|src/engine/metrics.rs|failed_phase: model\.failure\.as_ref\(\)\.map\(.f. f\.phase\),|failed_phase: model.failure.as_ref().and(Some(Phase::Authentication)),|probe_metrics exporter_prometheus|every failed probe reports the authentication phase (a denied send looks like a bad password)"
  "exporter-lock-off|src/commands/exporter.rs|let _guard = if target\.concurrent \{|let _guard = if true {|exporter_http|two scrapes of one target run two sessions at once (no per-target lock)"
  "scrape-timeout-ignored|src/commands/exporter.rs|Some\(a\) => own\.min\(a\.saturating_sub\(TIMEOUT_MARGIN\)\.max\(MIN_DEADLINE\)\),|Some(_) => own,|exporter_http|the exporter ignores Prometheus's scrape timeout header"
  "alert-phase-wrong|assets/monitoring/alerts.yml|(alert: SMTPAuthorizationDenied\n\s*expr: smtp_probe_failed_phase\{phase=)\"authorization\"|\1\"authentication\"|monitoring_assets exporter_prometheus|the SMTPAuthorizationDenied alert watches the authentication phase"
)

# The copy lives at a fixed place: its path is compiled into the test binaries
# (CARGO_MANIFEST_DIR), so a fresh temporary path would leave cargo reusing binaries that look
# for their files in a folder gone since. Files are extracted with new mtimes (tar -m): a
# restored file must look newer than the mutated build, or cargo would keep that build.
work="${MUTANTS_DIR:-$CARGO_TARGET_DIR/mutants}"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work/smtpscope" "$work/pristine"' EXIT
copy="$work/smtpscope"
mkdir "$copy"
tar -C "$repo" --exclude=./target --exclude=./fuzz/target --exclude=./.venv --exclude=./.git \
  --exclude=./fuzz/corpus --exclude=./fuzz/artifacts -cf - . | tar -C "$copy" -xmf -
pristine="$work/pristine"
mkdir "$pristine"
tar -C "$copy" -cf - src assets | tar -C "$pristine" -xmf -

restore() {
  rm -rf "$copy/src" "$copy/assets"
  tar -C "$pristine" -cf - src assets | tar -C "$copy" -xmf -
}

# Applies one substitution to every file matching the globs; prints how many places changed.
apply() {
  local globs=$1 pattern=$2 replacement=$3
  (cd "$copy" && python3 - "$pattern" "$replacement" $globs <<'PY'
import re, sys
pattern, replacement, files = sys.argv[1], sys.argv[2], sys.argv[3:]
total = 0
for path in files:
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        continue
    new, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if n:
        open(path, "w", encoding="utf-8").write(new)
        total += n
print(total)
PY
  )
}

# Runs test binaries in the copy; prints "pass", "fail" or "nocompile".
run_tests() {
  local log=$1
  shift
  local args=()
  for t in "$@"; do args+=(--test "$t"); done
  if (cd "$copy" && cargo test "${args[@]}" >"$log" 2>&1); then
    echo pass
  elif grep -q "could not compile" "$log"; then
    echo nocompile
  else
    echo fail
  fi
}

selected=("$@")
wanted() {
  ((${#selected[@]} == 0)) && return 0
  local n
  for n in "${selected[@]}"; do [[ $n == "$1" ]] && return 0; done
  return 1
}

# The unmutated copy must pass every binary used, or "caught" would mean nothing.
all_tests=()
for m in "${MUTATIONS[@]}"; do
  IFS='|' read -r name _ _ _ tests _ <<<"$m"
  wanted "$name" || continue
  for t in $tests; do [[ " ${all_tests[*]} " == *" $t "* ]] || all_tests+=("$t"); done
done
echo "baseline: cargo test ${all_tests[*]/#/--test } (unmutated copy)"
if [[ $(run_tests "$work/baseline.log" "${all_tests[@]}") != pass ]]; then
  echo "baseline FAILED: the unmutated copy does not pass; see below" >&2
  tail -40 "$work/baseline.log" >&2
  exit 2
fi

failures=0
for m in "${MUTATIONS[@]}"; do
  IFS='|' read -r name globs pattern replacement tests what <<<"$m"
  wanted "$name" || continue
  restore
  changed=$(apply "$globs" "$pattern" "$replacement")
  if [[ $changed == 0 ]]; then
    printf '%-24s pattern not found in %s (%s)\n' "$name" "$globs" "$what"
    failures=$((failures + 1))
    continue
  fi
  # shellcheck disable=SC2086
  outcome=$(run_tests "$work/$name.log" $tests)
  case $outcome in
    fail) printf '%-24s caught    by %s: %s\n' "$name" "$tests" "$what" ;;
    pass)
      printf '%-24s MISSED    by %s: %s\n' "$name" "$tests" "$what"
      failures=$((failures + 1))
      ;;
    nocompile)
      printf '%-24s does not compile (fix the mutation): %s\n' "$name" "$what"
      grep -m3 -A5 '^error' "$work/$name.log" | sed 's/^/    /'
      failures=$((failures + 1))
      ;;
  esac
done
restore

if ((failures)); then
  echo "mutants: $failures not caught" >&2
  exit 1
fi
echo "mutants: all caught"
