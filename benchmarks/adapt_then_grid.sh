#!/bin/bash
# Issue 18 items 2 + 4 in one queue slot: the development table, the rule's decision, then the OCTIS grid's
# SAE cells at the resulting defaults, then the external-reference NPMI. Run from the repository root:
#   nohup /work/bin/heavy bash benchmarks/adapt_then_grid.sh > log 2>&1 &
set -u
PY=${PYTHON:-python}
R=benchmarks/results
$PY -m benchmarks.adapt_dev run --threads 1 --groups small
$PY -m benchmarks.adapt_dev run --threads 1 --groups medium
DECISION=$($PY -m benchmarks.adapt_dev decide | tail -1)
echo "decision: $DECISION"
THRESHOLD=$(echo "$DECISION" | $PY -c "import json,sys; print(json.load(sys.stdin)['threshold'] or 0)")
NEW=$R/octis_grid_sae_s9.csv
if [ "$THRESHOLD" -gt 0 ]; then
  # adapt="auto" with the threshold: corpora at or under it get new cells (3 seeds: fine-tuning is seeded);
  # the others are fitted exactly as before (no seed enters), so their committed default rows are copied.
  $PY - "$THRESHOLD" <<'PYEOF'
import json, sys
import pandas as pd
threshold = int(sys.argv[1])
rows = pd.read_csv("benchmarks/results/octis_grid_sae_defaults.csv")
keep = rows[(rows["n_docs"] > threshold) & (rows["seed"] == 0)]
keep.to_csv("benchmarks/results/octis_grid_sae_s9.csv", index=False)
names = set(zip(keep["dataset"], keep["num_topics"], keep["seed"]))
with open("benchmarks/results/octis_grid_sae_defaults_topics.jsonl") as src, \
        open("benchmarks/results/octis_grid_sae_s9_topics.jsonl", "w") as out:
    for line in src:
        r = json.loads(line)
        if (r["dataset"], r["num_topics"], r["seed"]) in names:
            out.write(line)
print(f"copied {len(keep)} rows above {threshold} documents")
PYEOF
  SET=(--set "sae.merger_params={\"adapt\": \"auto\", \"adapt_max_docs\": $THRESHOLD}")
  for SEED in 0 1 2; do
    $PY -m benchmarks.octis_grid --datasets bbc_news --models sae --ks 20 50 100 200 --seeds $SEED --out $NEW "${SET[@]}"
  done
else
  NEW=$R/octis_grid_sae_defaults.csv
fi
$PY -m benchmarks.octis_grid --datasets dblp --models sae --ks 50 100 200 --seeds 0 --out $NEW
TOPICS=${NEW%.csv}_topics.jsonl
$PY -m benchmarks.external_npmi --new "$TOPICS" --new-csv "$NEW" --per-corpus 1000
