#!/bin/bash
# Submits a desi-qad conversion to AWS Batch as one array job, in three steps:
#
#   1. `desi-qad plan --out OUT --shards SHARDS …` (here): discovers the tiles once, fixes the dataset's
#      identity and writes OUT/_desi-qad/plan.json. OUT is normally s3://bucket/prefix, which every child sees.
#   2. `aws batch submit-job --array-properties size=SHARDS` with job-definition.json: child K gets
#      AWS_BATCH_JOB_ARRAY_INDEX=K, which desi-qad reads as its shard (N from the plan). Exit codes decide
#      retries (job-definition.json's retryStrategy): 4 (stopped: Spot reclaim, a source or output that could
#      not be reached) is retried and resumes from the journal; 1, 2 and 3 are not (a retry would meet the same
#      bad file, usage error or failure rate).
#   3. A status job depending on the array (`desi-qad status --out OUT`, exit 0 when complete). AWS Batch runs
#      it only when every child succeeded; when one failed for good it fails too ("dependent job failed"):
#      run `desi-qad status --out OUT` yourself to see what is left, and submit again to finish it.
#
# Usage: submit.sh OUT SHARDS [options]   (register the definition first:
#          aws batch register-job-definition --cli-input-json file://job-definition.json)
#   SHARDS   1..10000 (AWS Batch arrays have 2..10000 children; 1 runs a single job with --shard 0/1)
#   options  desi-qad options, split as deploy/slurm/submit.sh does: --survey --program --tiles --sample --seed
#            to plan only; --source --spectype --keep-zwarn --min-deltachi2 --log-dir to plan and convert;
#            --endpoint --region --profile --no-sign-request --sign-request to all three; the rest to convert.
#
# Environment:
#   JOB_QUEUE        the job queue (required)
#   JOB_DEFINITION   the job definition (default: desi-qad, as registered from job-definition.json)
#   DESIQAD          the desi-qad command used here for the plan (default: desi-qad)
#   THREADS, MEMORY  convert's --threads and --memory in the children (defaults: 4 and 6GiB, matching the
#                    definition's 4 vCPU and 12 GiB)
#
# Prints the plan, then `array job: ID` and `status job: ID`.
set -euo pipefail

usage() {
  echo "usage: JOB_QUEUE=… submit.sh OUT SHARDS [desi-qad options]   ($1)" >&2
  exit 2
}
[ $# -ge 2 ] || usage "OUT and SHARDS are required"
out="$1"
shards="$2"
shift 2
[[ "$shards" =~ ^[1-9][0-9]*$ ]] && [ "$shards" -le 10000 ] || usage "SHARDS must be an integer from 1 to 10000, got '$shards'"
[ -n "${JOB_QUEUE:-}" ] || usage "set JOB_QUEUE"
definition="${JOB_DEFINITION:-desi-qad}"
read -r -a desiqad <<<"${DESIQAD:-desi-qad}"

plan_args=()
convert_args=()
status_args=()
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

# A JSON array of strings (container command overrides).
json_array() {
  local sep='' w
  printf '['
  for w in "$@"; do
    w="${w//\\/\\\\}"
    w="${w//\"/\\\"}"
    printf '%s"%s"' "$sep" "$w"
    sep=','
  done
  printf ']'
}

# 1. The plan.
"${desiqad[@]}" plan --out "$out" --shards "$shards" "${plan_args[@]}"

# 2. The array job. Its command is the definition's with the options above added; a single child has no
# AWS_BATCH_JOB_ARRAY_INDEX, so it names its shard.
convert=(desi-qad convert --out "$out" --threads "${THREADS:-4}" --memory "${MEMORY:-6GiB}" --log-dir /tmp/desi-qad-logs "${convert_args[@]}")
array=()
if [ "$shards" -eq 1 ]; then convert+=(--shard 0/1); else array=(--array-properties "size=$shards"); fi
array_id="$(aws batch submit-job --job-name desi-qad --job-queue "$JOB_QUEUE" --job-definition "$definition" "${array[@]}" \
  --container-overrides "{\"command\":$(json_array "${convert[@]}")}" --query jobId --output text)"

# 3. The status job, after the whole array (a dependency on an array job waits for every child).
status=(desi-qad status --out "$out" "${status_args[@]}")
status_id="$(aws batch submit-job --job-name desi-qad-status --job-queue "$JOB_QUEUE" --job-definition "$definition" \
  --depends-on "jobId=$array_id" --retry-strategy attempts=1 \
  --container-overrides "{\"command\":$(json_array "${status[@]}")}" --query jobId --output text)"

echo "array job: $array_id"
echo "status job: $status_id"
