#!/usr/bin/env bash
# One whole case life against a running connector, with curl and jq:
#   clients (court, mediation) → organization → the court's special roster → subscriptions to a local receiver →
#   referral → acceptance → agreement → judicial confirmation application → its acceptance → ruling → the webhooks
#   the receiver got.
#
# Needs: bash, curl, jq, GNU date, node (for the receiver). Environment:
#   BASE_URL      the service, e.g. http://127.0.0.1:3000 (default)
#   OPERATOR_KEY  an operator API key (the service's OPERATOR_API_KEY)                     (required)
#   RECEIVER_CMD  how to start examples/receiver (default: node dist/examples/receiver.js; build it first with
#                 `npm run build:tools`)
# The request bodies are the JSON files beside this script; __PLACEHOLDERS__ in them are filled in at run time
# (dates are today's in Asia/Shanghai, timestamps the current time), so the walk-through works on any day.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE_URL="${BASE_URL:-http://127.0.0.1:3000}"
: "${OPERATOR_KEY:?set OPERATOR_KEY to an operator API key, the OPERATOR_API_KEY of the service}"
RECEIVER_CMD="${RECEIVER_CMD:-node $here/../dist/examples/receiver.js}"
for tool in curl jq node; do command -v "$tool" >/dev/null || { echo "walkthrough: $tool is needed" >&2; exit 2; }; done

work="$(mktemp -d)"
receiver_pid=""
cleanup() {
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

today() { TZ=Asia/Shanghai date +%F; }
now() { TZ=Asia/Shanghai date +%FT%T+08:00; }
YEAR="$(TZ=Asia/Shanghai date +%Y)"
SERIAL="$(( $(date +%s) % 100000 + RANDOM ))"
CASE_NUMBER="（${YEAR}）京0105民诉前调${SERIAL}号"
CONFIRMATION_CASE_NUMBER="（${YEAR}）京0105诉前调确${SERIAL}号"

# body FILE [NAME=VALUE...]: the file with its placeholders filled in (values computed now, so timestamps are fresh).
body() {
  local file="$here/$1"; shift
  local text
  text="$(cat "$file")"
  text="${text//__NOW__/$(now)}"
  text="${text//__TODAY__/$(today)}"
  text="${text//__THREE_DAYS_AGO__/$(TZ=Asia/Shanghai date -d '3 days ago' +%F)}"
  text="${text//__IN_30_DAYS__/$(TZ=Asia/Shanghai date -d '30 days' +%F)}"
  text="${text//__YEAR__/$YEAR}"
  text="${text//__CASE_NUMBER__/$CASE_NUMBER}"
  text="${text//__CONFIRMATION_CASE_NUMBER__/$CONFIRMATION_CASE_NUMBER}"
  local pair
  for pair in "$@"; do text="${text//__${pair%%=*}__/${pair#*=}}"; done
  printf '%s' "$text"
}

# api KEY METHOD PATH [BODY]: one call; prints the answer's JSON; stops the walk-through on a non-2xx answer.
# Every POST carries a fresh Idempotency-Key (send the same key again to retry safely).
api() {
  local key="$1" method="$2" path="$3" data="${4-}"
  local args=(-sS -X "$method" -H "Authorization: Bearer $key" -o "$work/out" -w '%{http_code}')
  [ "$method" = POST ] && args+=(-H "Idempotency-Key: walk-$(date +%s%N)-$RANDOM")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  local status
  status="$(curl "${args[@]}" "$BASE_URL$path")"
  if [ "${status:0:1}" != 2 ]; then
    echo "✗ $method $path → $status" >&2
    cat "$work/out" >&2; echo >&2
    exit 1
  fi
  echo "✓ $method $path → $status" >&2
  cat "$work/out"
}

echo "== 1. clients: a court system and a mediation platform (operator key)"
# The apiKey of each answer is shown once: it is the key the court (COURT_KEY) and the platform (MEDIATION_KEY) use.
court="$(api "$OPERATOR_KEY" POST /v1/clients "$(body court-client.json)")"
COURT_KEY="$(jq -r .apiKey <<<"$court")"
COURT_CLIENT_ID="$(jq -r .id <<<"$court")"
mediation="$(api "$OPERATOR_KEY" POST /v1/clients "$(body mediation-client.json)")"
MEDIATION_KEY="$(jq -r .apiKey <<<"$mediation")"
MEDIATION_CLIENT_ID="$(jq -r .id <<<"$mediation")"

echo "== 2. the platform registers its organization; the court puts it on its special roster (特邀名册)"
api "$MEDIATION_KEY" PUT /v1/organizations/bj-cy-blz "$(body organization.json)" | jq -c '{id, name, rosters}'
api "$COURT_KEY" PUT "/v1/courts/$(jq -rn --arg c 京0105 '$c|@uri')/special-roster/bj-cy-blz" >/dev/null

echo "== 3. a receiver for webhooks, subscribed for both sides (loopback, hence allowPrivateNetwork)"
: >"$work/secrets"
WEBHOOK_SECRET_FILE="$work/secrets" PORT=0 $RECEIVER_CMD >"$work/received" 2>"$work/receiver.err" &
receiver_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/received" 2>/dev/null && break; sleep 0.1; done
RECEIVER_URL="$(head -1 "$work/received" | jq -r .listening)"
for client in "$COURT_CLIENT_ID" "$MEDIATION_CLIENT_ID"; do
  # The secret (whsec_…) is shown once: the receiver verifies every delivery with it.
  api "$OPERATOR_KEY" POST /v1/subscriptions "$(body subscription.json CLIENT_ID="$client" RECEIVER_URL="$RECEIVER_URL")" | jq -r .secret >>"$work/secrets"
done

echo "== 4. the court refers the case (委派)"
referral="$(api "$COURT_KEY" POST /v1/referrals "$(body referral.json)")"
REFERRAL_ID="$(jq -r .id <<<"$referral")"
jq -c '{id, caseNumber, status, deadlines}' <<<"$referral"

echo "== 5. the platform accepts it (acceptedAt: now)"
api "$MEDIATION_KEY" POST "/v1/referrals/$REFERRAL_ID/acceptance" "$(body acceptance.json)" | jq -c '{status, deadlines}'

echo "== 6. the agreement: both parties, the mediator's signature and the organization's seal"
agreed="$(api "$MEDIATION_KEY" POST "/v1/referrals/$REFERRAL_ID/agreement" "$(body agreement.json)")"
AGREEMENT_SHA256="$(jq -r .agreement.sha256 <<<"$agreed")"
jq -c '{status, effectiveAt: .agreement.effectiveAt, sha256: .agreement.sha256}' <<<"$agreed"

echo "== 7. the parties apply for judicial confirmation (司法确认), through the platform"
confirmation="$(api "$MEDIATION_KEY" POST /v1/judicial-confirmations "$(body confirmation.json REFERRAL_ID="$REFERRAL_ID" AGREEMENT_SHA256="$AGREEMENT_SHA256")")"
CONFIRMATION_ID="$(jq -r .id <<<"$confirmation")"

echo "== 8. the court accepts the application and rules the agreement valid"
api "$COURT_KEY" POST "/v1/judicial-confirmations/$CONFIRMATION_ID/acceptance" "$(body confirmation-acceptance.json)" | jq -c '{status, reviewDueOn}'
api "$COURT_KEY" POST "/v1/judicial-confirmations/$CONFIRMATION_ID/ruling" "$(body ruling.json)" | jq -c '{status, objectionDueOn}'

echo "== 9. webhooks received (verified, deduplicated on webhook-id)"
for _ in $(seq 1 300); do grep -q '"confirmation.ruled"' "$work/received" && break; sleep 0.1; done
tail -n +2 "$work/received" | jq -r '"  \(.type)\t\(.subject.kind) \(.subject.id) #\(.sequence)"'
grep -q '"confirmation.ruled"' "$work/received" || { echo "the receiver did not get confirmation.ruled" >&2; exit 1; }

echo "== done"
api "$COURT_KEY" GET "/v1/referrals/$REFERRAL_ID" | jq -r '"referral \(.id) \(.status)"'
api "$COURT_KEY" GET "/v1/judicial-confirmations/$CONFIRMATION_ID" | jq -r '"confirmation \(.id) \(.status)"'
