#!/bin/bash
# Submits a desi-qad conversion to Slurm as one job array, in three steps:
#
#   1. `desi-qad plan --out OUT --shards SHARDS …` (here, on the login node): discovers the tiles once,
#      fixes the dataset's identity and writes OUT/_desi-qad/plan.json, balanced by bytes.
#   2. `sbatch --array=0-(SHARDS-1) desi-qad-array.sbatch …`: task K converts shard K of the plan.
#   3. `sbatch --dependency=afterany:ARRAY --wrap "desi-qad status --out OUT …"`: once every task has ended,
#      however it ended, a small job whose exit status says whether the dataset is complete (0) or not (1:
#      see its output for the tiles left; resubmit the array, or run submit.sh again, to finish them).
#
# Usage: submit.sh OUT SHARDS [options]
#   OUT      the dataset: a folder every node sees (a shared filesystem), or s3://bucket/prefix
#   SHARDS   the number of array tasks (1 ≤ SHARDS ≤ the site's MaxArraySize); few long tasks are kinder to
#            the scheduler than thousands of short ones
#   options  desi-qad options; each goes where it belongs:
#            --survey --program --tiles --sample --seed            to plan only (the plan decides the tiles)
#            --source --spectype --keep-zwarn --min-deltachi2      to plan and convert (the dataset identity)
#            --endpoint --region --profile --no-sign-request …     to plan, convert and status (S3 access)
#            --log-dir                                             to plan and convert
#            anything else (--downloads, --batch-size, --fetch …)  to convert only
#
# Environment:
#   DESIQAD                 the desi-qad command (default: desi-qad), e.g. "node /path/bin/desi-qad.js"
#   DESIQAD_SBATCH_OPTIONS  extra sbatch options for both jobs, e.g. "--account=m1234 --qos=regular
#                           --constraint=cpu --cpus-per-task=16 --mem=32G" (word-split)
#
# Prints the plan, then `array job: ID` and `status job: ID`. Exits with plan's status if planning fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() {
  echo "usage: submit.sh OUT SHARDS [desi-qad options]   ($1)" >&2
  exit 2
}
[ $# -ge 2 ] || usage "OUT and SHARDS are required"
out="$1"
shards="$2"
shift 2
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || usage "SHARDS must be a positive integer, got '$shards'"
read -r -a desiqad <<<"${DESIQAD:-desi-qad}"
read -r -a sbatch_extra <<<"${DESIQAD_SBATCH_OPTIONS:-}"

plan_args=()
convert_args=()
status_args=()
# Options that take no value; every other option takes the next word unless written --name=value.
is_flag() {
  case "$1" in
    --keep-zwarn | --no-sign-request | --sign-request | --quiet | --allow-missing) return 0 ;;
    *) return 1 ;;
  esac
}
while [ $# -gt 0 ]; do
  opt="$1"
  shift
  name="${opt%%=*}"
  words=("$opt")
  if [[ "$opt" != *=* ]] && ! is_flag "$name" && [ $# -gt 0 ] && [[ "$1" != --* ]]; then
    words+=("$1")
    shift
  fi
  case "$name" in
    --out | --shards | --shard) usage "$name is set by submit.sh (OUT, SHARDS and the array index)" ;;
    --survey | --program | --tiles | --sample | --seed) plan_args+=("${words[@]}") ;;
    --source | --spectype | --keep-zwarn | --min-deltachi2 | --log-dir)
      plan_args+=("${words[@]}")
      convert_args+=("${words[@]}")
      ;;
    --endpoint | --endpoint-url | --region | --profile | --no-sign-request | --sign-request)
      plan_args+=("${words[@]}")
      convert_args+=("${words[@]}")
      status_args+=("${words[@]}")
      ;;
    --*) convert_args+=("${words[@]}") ;;
    *) usage "unexpected argument '$opt'" ;;
  esac
done

# 1. The plan. Its exit status is desi-qad's (2 usage or identity mismatch, 4 source or output failure).
"${desiqad[@]}" plan --out "$out" --shards "$shards" "${plan_args[@]}"

# 2. The array. OUT reaches the tasks through the environment (sbatch exports the caller's by default).
array_id="$(OUT="$out" sbatch --parsable --array="0-$((shards - 1))" "${sbatch_extra[@]}" "$here/desi-qad-array.sbatch" "${convert_args[@]}")"
array_id="${array_id%%;*}" # --parsable prints "id" or "id;cluster"

# 3. The status job, after every task has ended (afterany: also when some failed). Its command is quoted for
# sh, which runs --wrap.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
wrap="$(for w in "${desiqad[@]}" status --out "$out" "${status_args[@]}"; do printf '%s ' "$(quote "$w")"; done)"
status_id="$(sbatch --parsable --job-name=desi-qad-status --dependency="afterany:$array_id" --kill-on-invalid-dep=yes \
  "${sbatch_extra[@]}" --ntasks=1 --cpus-per-task=1 --mem=2G --time=00:30:00 --output=desi-qad-status_%j.out --wrap "$wrap")"
status_id="${status_id%%;*}"

echo "array job: $array_id"
echo "status job: $status_id"
