#!/usr/bin/env bash
# Gravitational-wave population inference on built-in defaults, end to end:
#   1. a mock catalog: one power law in (m1, q), the analytic detector, 120 to 150
#      detections with 2,000 mock posterior samples each;
#   2. hierarchical inference with the default sampler (slice sampling along adapted
#      directions, 4 chains x (600 warmup + 1,000 draws));
#   3. the report: corner plot with the truths, traces, R-hat/ESS, dR/dm1 and dR/dq.
# Usage: bash examples/population.sh [OUTPUT_DIR]   (default: population_demo)
set -euo pipefail
out="${1:-population_demo}"
hierax-pop mock --output "$out/data"
hierax-pop infer --posterior-regex "$out/data/realization_0/posteriors/event_*.dat" \
    --output "$out/inference" --overwrite   # a demo replaces its own earlier run
hierax-pop report "$out/inference"
echo "Report: $out/inference/report/index.html"
