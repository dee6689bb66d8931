#!/usr/bin/env bash
# The GPU measurements of docs/BENCHMARKS.md in one go, for a short stay on a rented GPU machine.
#
#   bash benchmarks/gpu_suite.sh OUT_DIR VIDEO_DIR [STAGE ...]
#
# VIDEO_DIR holds 48 320x568 benchmark clips named bench_320x568_<i>.mp4
# (`python benchmarks/make_videos.py VIDEO_DIR --height 568 --width 320 --count 48`, made beforehand so the
# GPU time is not spent encoding). Stages run in the order given (default: all, most important first); each has
# its own time limit, so one that fails or overruns leaves the others' results. Every JSON line a benchmark
# prints goes to OUT_DIR/results.jsonl with a "stage" key; the full output goes to OUT_DIR/log.txt.
#
# All stages take about 11 minutes on an H200 (2026-11-26), so to keep each invocation under 10 minutes run them as
#   ... env step_b step_g e2e e2e_workers eval eval_workers step_g_full    (about 5 minutes)
#   ... step_b_compile step_g_compile diagnostics                          (about 6 minutes)
# eval_compile (ours vs transformers' classifier, bf16 weights, torch.compile + CUDA graphs; an invocation of its
# own, not timed on a GPU yet), and, an invocation of its own, compare_embedded: training/compare_init.py on the
# embedded set with the recipe pair that
# beats scratch on the CPU (20k pre-training steps, 400 fine-tuning steps; not timed on a GPU yet, under 10 min
# if 12 loader workers keep the GPU fed). Its run folders go to WORK_DIR (default /tmp/gpu_suite_work), its report
# (compare_init.json, .md, .png) to OUT_DIR/compare_embedded. quickstart_full, an invocation of its own: the main
# job's whole evidence live on the GPU (`hf-tiktokactions quickstart --pretrain full --device cuda`: data, curation,
# 20k pre-training steps from random weights, both arms fine-tuned per seed; target under 10 minutes, not timed on a
# GPU yet); its summary.json, comparison.png, reconstructions.png and the reference's record.json go to
# OUT_DIR/quickstart_full.
#
# SMOKE=1 runs every stage with tiny sizes on the CPU: a check of the plumbing, not a measurement.
set -u -o pipefail

out=$1 videos=$2
shift 2
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(env step_b step_g e2e e2e_workers eval eval_workers step_b_compile step_g_full step_g_compile diagnostics compare_embedded eval_compile quickstart_full)
python=${PYTHON:-python3}
mkdir -p "$out"

if [ "${SMOKE:-0}" = 1 ]; then
    b=(--model-preset vit-tiny --num-frames 4 --image-size 32 --batch 2 --steps 2 --warmup 1 --device cpu)
    g=("${b[@]}")
    e2e=(--model-preset vit-tiny --num-frames 4 --input-size 32 --batch 2 --num-sample 2 --workers 2 --steps 2 --warmup 1 --device cpu)
    evl=(--model-preset vit-tiny --num-frames 4 --image-size 32 --views 2x3 --videos-per-batch 2 --batches 2 --num-videos 4 --files 2 --workers 2 --device cpu)
    diag=(--labelled 2 --test 1 --unlabeled 2 --size 32 --num-frames 4 --batch 4 --pretrain-steps 3 --finetune-steps 2 --device cpu)
    compare=(--embedded_clips_per_class 4 --pretrain_args "--max_steps 3 --per_device_train_batch_size 4 --dataloader_num_workers 0"
             --finetune_args "--max_steps 2 --max_train_videos 8 --per_device_train_batch_size 4 --eval_strategy no --dataloader_num_workers 0")
    # two seeds: tests/test_quickstart_evidence.py checks this run's evidence (per-seed numbers) and continues its reference
    quick=(--device cpu --pretrain-steps 2 --finetune-steps 2 --finetune-seeds 0,1 --labeled-clips-per-class 4 --pool-clips-per-class 3)
else
    b=(--model-preset vit-b --batch 64)
    g=(--model-preset vit-g --batch 32 --steps 10 --warmup 3)
    e2e=(--model-preset vit-b --batch 16 --num-sample 4 --workers 16)
    evl=(--model-preset vit-b --views 5x3 --videos-per-batch 4 --num-videos 256 --files 48 --workers 16)
    # 8k steps of 128 clips on 700 unlabeled clips: ~1460 epochs (5x the longest CPU run). On an H200 a step took
    # 20 ms (2026-11-26), so this is ~3 min; 20k steps (~3600 epochs) need ~7 min, an invocation of their own.
    diag=(--pretrain-steps 8000 --pretrain-batch 128)
    compare=(--embedded_clips_per_class 100 --pretrain_args "--dataloader_num_workers 12" --finetune_args "--dataloader_num_workers 8")
    quick=(--device cuda)
fi
work=${WORK_DIR:-/tmp/gpu_suite_work}

run() {
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*" | tee -a "$out/log.txt"
    local started=$SECONDS
    timeout "$limit" env PYTHONUNBUFFERED=1 "$python" "$@" 2>&1 | tee -a "$out/log.txt" \
        | { grep '^{"' || true; } | sed "s/^{/{\"stage\": \"$name\", /" >>"$out/results.jsonl"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - started)) s" | tee -a "$out/log.txt"
}

for stage in "${stages[@]}"; do
    case $stage in
        env)
            { nvidia-smi -L 2>&1 || true; nproc; } | tee -a "$out/log.txt"
            run env 60 -c "import json, torch, transformers, av, decord; print(json.dumps({'torch': torch.__version__, \
'transformers': transformers.__version__, 'cuda': torch.cuda.is_available(), 'gpu': torch.cuda.get_device_name() \
if torch.cuda.is_available() else None}))" ;;
        step_b) run step_b 150 benchmarks/pretrain_step.py "${b[@]}" ;;
        step_g) run step_g 180 benchmarks/pretrain_step.py "${g[@]}" --gradient-checkpointing --models ours ;;
        e2e) run e2e 120 benchmarks/pretrain_e2e.py --videos "$videos/*.mp4" "${e2e[@]}" ;;
        e2e_workers) run e2e_workers 120 benchmarks/pretrain_e2e.py --videos "$videos/*.mp4" "${e2e[@]}" --normalize-in-workers ;;
        eval) run eval 180 benchmarks/eval_throughput.py --video-dir "$videos" "${evl[@]}" --profile ;;
        # the classifier alone against transformers' in the same process: bf16 weights, torch.compile with CUDA graphs,
        # alternating rounds (docs/BENCHMARKS.md; target: 2x transformers). Not run yet on a GPU.
        eval_compile) run eval_compile 420 benchmarks/eval_throughput.py "${evl[@]}" --num-videos 0 --dtype bf16 --cast-weights \
            --compile reduce-overhead --rounds 3 ;;
        eval_workers) run eval_workers 150 benchmarks/eval_throughput.py --video-dir "$videos" "${evl[@]}" --normalize-in-workers --models ours ;;
        step_b_compile) run step_b_compile 200 benchmarks/pretrain_step.py "${b[@]}" --compile --models ours ;;
        # ViT-g without activation checkpointing (no recomputed forward), eager and compiled
        step_g_full) run step_g_full 150 benchmarks/pretrain_step.py "${g[@]}" --models ours ;;
        step_g_compile) run step_g_compile 240 benchmarks/pretrain_step.py "${g[@]}" --compile --models ours ;;
        diagnostics)
            run diagnostics "${DIAGNOSTICS_LIMIT:-300}" training/embedded_diagnostics.py --arms scratch,pretrained,probe \
                "${diag[@]}" --output-json "$out/diagnostics.json" ;;
        compare_embedded)
            run compare_embedded "${COMPARE_LIMIT:-570}" training/compare_init.py --embedded true --seeds 0 --arms index,scratch \
                --pretrain_config training/configs/pretrain_embedded_synthetic.yaml \
                --finetune_config training/configs/finetune_embedded_synthetic.yaml "${compare[@]}" --output_dir "$work/compare_embedded"
            mkdir -p "$out/compare_embedded"
            cp "$work"/compare_embedded/compare_init.* "$work"/compare_embedded/*/pretrain/metrics.jsonl "$out/compare_embedded/" 2>/dev/null
            "$python" -c 'import json, sys; arms = json.load(open(sys.argv[1]))["arms"]
print(json.dumps({"stage": "compare_embedded", "top1": {arm: summary["top1"]["mean"] for arm, summary in arms.items()}}))' \
                "$out/compare_embedded/compare_init.json" >>"$out/results.jsonl" || true ;;
        quickstart_full)
            rm -rf "$work/quickstart_full"  # live from nothing: no stage of an earlier run is reused
            run quickstart_full "${QUICKSTART_LIMIT:-600}" -m hf_tiktokactions quickstart --pretrain full "${quick[@]}" \
                --output-dir "$work/quickstart_full" --quiet
            mkdir -p "$out/quickstart_full"
            cp "$work"/quickstart_full/{summary.json,comparison.png,reconstructions.png} "$work"/quickstart_full/reference/record.json \
                "$out/quickstart_full/" 2>/dev/null
            "$python" -c 'import json, sys; summary = json.load(open(sys.argv[1])); comparison = summary["comparison"]
print(json.dumps({"stage": "quickstart_full", "seconds": summary["seconds"], "device": summary["device"],
                  "top1": {arm: comparison[arm]["top1"] for arm in ("pretrained", "scratch")},
                  "stage_seconds": {stage["name"]: stage["seconds"] for stage in summary["stages"]}}))' \
                "$out/quickstart_full/summary.json" >>"$out/results.jsonl" || true ;;
        *) echo "unknown stage $stage" >&2; exit 2 ;;
    esac
done
