#!/usr/bin/env bash
# The one-node Slurm test of zoo generation on a cluster (README, "Scaling out"): starts
# munged, slurmctld and slurmd for this machine, runs a zoo job array with a cancelled task
# and a resubmission, merges, checks, and stops the daemons. Needs root (installs slurm-wlm
# and munge when missing). Arguments go to `cargo xtask test-slurm` (--keep, --tasks, --count).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo xtask test-slurm "$@"
