#!/bin/bash
# One `statestream batch` job shared by a Slurm job array: each array task processes one shard
# of the same sorted file list (docs/batch.md, "Order, jobs and sharding"). Submit with
#
#   sbatch --array=0-15 docs/slurm_batch.sh
#
# and, after a failure or a time-out, submit the same way again: finished files are skipped.
# The array's indices must run from 0 without gaps (--array=0-(N-1)): task I takes shard I/N.
#SBATCH --job-name=transcribe
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=logs/transcribe-%A_%a.log
set -euo pipefail

# Every task must list the same files: give them the same manifest (or the same folder on a
# shared file system) and do not add files while the array runs.
manifest=/shared/recordings/manifest.txt
out=/shared/transcripts

srun statestream batch transcribe "@${manifest}" \
    --out "${out}" \
    --jobs "${SLURM_CPUS_PER_TASK}" \
    --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}"
# The exit code reaches sacct: 0 every file done, 3 some files failed (their errors are in
# ${out}/batch-report.shard-I-of-N.json), 130 stopped (Slurm sends SIGTERM at the time limit or
# on scancel; finished files are kept and the next submission resumes).
