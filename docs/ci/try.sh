#!/usr/bin/env bash
# Runs the CI recipes of docs/ci.md on this machine, as written, without a hosted runner: clones the committed
# branch into a temporary folder, extracts the `run:` commands of docs/ci/github-workflow.yml (and the
# `script:`/`after_script:` of docs/ci/gitlab-ci.yml), runs them there in order with the runner's rules (a
# failed step skips the following ones unless they say `if: always()`; GitLab's after_script always runs), then
# checks what the `uses:` steps and `artifacts:` would pick up: the report folder, the JUnit files, the
# Markdown on the job summary.
#
#   docs/ci/try.sh [github|gitlab|both]     (default: github)
#
# TRY_TARGET: a folder kept between tries as the clone's target/ (what the rust-cache step does on GitHub);
# default /tmp/hadrill-ci-try-target. The first try builds hadrill in release mode from scratch.
# Exit 0 when every step and check passed.
set -euo pipefail

which_ci=${1:-github}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
if [ -n "$(git -C "$repo" status --porcelain -- docs/ci)" ]; then
  echo "try: docs/ci has uncommitted changes; the clone takes the committed branch" >&2
fi
target=${TRY_TARGET:-/tmp/hadrill-ci-try-target}
mkdir -p "$target"

# Prints the commands of one CI file as NUL-separated records: kind, name, condition, text.
extract() {
  python3 - "$1" "$2" <<'PY'
import sys, yaml
kind, path = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(open(path))
out = []
if kind == "github":
    for job in doc["jobs"].values():
        for step in job["steps"]:
            cond = str(step.get("if", "success()"))
            if "run" in step:
                out += ["run", step.get("name", step["run"]), cond, step["run"]]
            else:
                w = step.get("with", {})
                paths = " ".join(str(w[k]) for k in ("path", "report_paths") if k in w)
                out += ["uses", step["uses"], cond, paths]
else:
    for job in (v for k, v in doc.items() if isinstance(v, dict) and "script" in v):
        for line in job["script"]:
            out += ["run", line, "success()", line]
        for line in job.get("after_script", []):
            out += ["run", line, "always()", line]
        a = job.get("artifacts", {})
        out += ["uses", "artifacts:paths", "always()", " ".join(a.get("paths", []))]
        out += ["uses", "artifacts:reports:junit", "always()", a.get("reports", {}).get("junit", "")]
sys.stdout.write("".join(x + "\0" for x in out))
PY
}

# The files under folder $1 that the globs $2 match (** as GitHub and GitLab read it); empty when none.
picked() {
  (cd "$1" && shopt -s globstar nullglob && for g in $2; do echo $g; done)
}

try_one() {
  local ci=$1 file
  case $ci in
    github) file=$repo/docs/ci/github-workflow.yml ;;
    gitlab) file=$repo/docs/ci/gitlab-ci.yml ;;
    *) echo "try: unknown CI $ci (github, gitlab or both)" >&2; return 2 ;;
  esac
  local work
  work=$(mktemp -d "/tmp/hadrill-ci-try-$ci.XXXXXX")
  git clone -q --branch "$branch" "$repo" "$work/hadrill"
  ln -s "$target" "$work/hadrill/target"
  local summary=$work/step-summary.md
  : >"$summary"
  echo "try[$ci]: clean clone of $branch ($(git -C "$work/hadrill" rev-parse --short HEAD)) in $work/hadrill"
  local failed=0 started=$SECONDS kind name cond text
  while IFS= read -r -d '' kind && IFS= read -r -d '' name && IFS= read -r -d '' cond \
    && IFS= read -r -d '' text; do
    if [ "$failed" = 1 ] && [ "$cond" != "always()" ]; then
      echo "try[$ci]: skipped (an earlier step failed): $name"
      continue
    fi
    if [ "$kind" = uses ]; then
      case $name in
        actions/checkout@*) echo "try[$ci]: $name: the clean clone" ;;
        dtolnay/rust-toolchain@*) echo "try[$ci]: $name: this machine's $(cargo --version)" ;;
        Swatinem/rust-cache@*) echo "try[$ci]: $name: target/ is $target" ;;
        *)
          local files
          files=$(picked "$work/hadrill" "$text")
          if [ -n "$text" ] && [ -n "$files" ]; then
            echo "try[$ci]: $name: would pick up $text: $(echo $files)"
          else
            echo "try[$ci]: FAILED $name: nothing matches '$text'"
            failed=1
          fi
          ;;
      esac
      continue
    fi
    echo "try[$ci]: \$ $text"
    local t0=$SECONDS rc=0
    (
      cd "$work/hadrill"
      export CI=true
      [ "$ci" = github ] && export GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$summary GITHUB_WORKSPACE=$PWD
      nice -n 10 bash --noprofile --norc -eo pipefail -c "$text"
    ) || rc=$?
    echo "try[$ci]: exit $rc after $((SECONDS - t0)) s: $name"
    [ "$rc" = 0 ] || failed=1
  done < <(extract "$ci" "$file")
  if [ "$ci" = github ]; then
    if grep -q '^# ' "$summary"; then
      echo "try[$ci]: the job summary has the report: $(grep -m1 '^# ' "$summary")"
    else
      echo "try[$ci]: FAILED the job summary ($summary) has no report"
      failed=1
    fi
  fi
  echo "try[$ci]: $([ "$failed" = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s; clone kept in $work"
  return "$failed"
}

rc=0
case $which_ci in
  both) try_one github || rc=1; try_one gitlab || rc=1 ;;
  *) try_one "$which_ci" || rc=$? ;;
esac
exit "$rc"
