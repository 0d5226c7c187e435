"""Issue 40's exploration: the figures of each candidate's row (docs/recipe.md).

  python explore.py summary RUNS...        test accuracy and loop seconds of finished runs
  python explore.py ood EVIDENCE...        OOD mean over suite v4's 29 digit conditions
  python explore.py tta ROOT MODEL...      test correct: one view, PLUS, SQUARE (ttanet.py)
  python explore.py tta-time MODEL         inference cost of the views, taken in turns
  python explore.py teacher ROOT OUT MODEL...   an ensemble's mean training-set logits
  python explore.py with-views ROOT VIEWS IN OUT  a checkpoint as the recipe with VIEWS
      test-time views would have trained it (the training is the same: the weights are
      kept, the final evaluation made again; tested against a retrained seed)
  python explore.py same A B               do two checkpoints hold the same weights, config
      and final metrics?
ROOT is the MNIST root (~/.cache/mnist-model). One thread throughout.
"""

import glob
import json
import statistics as st
import sys
import time

import torch
from ttanet import PLUS, SQUARE, shifted

from mnist_model.checkpoint import load_checkpoint
from mnist_model.data.load import load_split
from mnist_model.evaluate import evaluate, predict_logits
from mnist_model.inference import inference_form
from mnist_model.model import normalize


def summary(folders):
    for folder in folders:
        rows = []
        for path in sorted(glob.glob(f"{folder}/s*/metrics.json")):
            metrics = json.load(open(path))
            if len(metrics["epochs"]) != metrics["config"]["epochs"]:
                continue  # still training, or stopped
            loop = sum(epoch["train_seconds"] for epoch in metrics["epochs"])
            seed = metrics["config"]["seed"]
            rows.append((seed, 100 * metrics["final"]["accuracy"], loop))
        rows.sort()
        if not rows:
            print(folder, "no finished run")
            continue
        acc = [r[1] for r in rows]
        sd = st.stdev(acc) if len(acc) > 1 else 0.0
        print(folder, "seeds", [r[0] for r in rows], " / ".join(f"{a:.2f}" for a in acc))
        print(
            f"  mean {st.mean(acc):.3f} sd {sd:.3f} min {min(acc):.2f} "
            f"loop {st.mean(r[2] for r in rows):.1f} s"
        )


def ood(folders):
    for folder in folders:
        means, refused = [], []
        for path in sorted(glob.glob(f"{folder}/*.json")):
            record = json.load(open(path))
            correct, total = record["ood"]["correct"], record["ood"]["total"]
            digits = [c for c in correct if c != "not_a_digit"]
            means.append(100 * st.mean(correct[c] / total[c] for c in digits))
            refusal = record["refusal"]
            refused.append(refusal["not_a_digit_refused"][refusal["grid"].index(0.6)] / 10)
        print(
            f"{folder}: {len(means)} models, OOD mean {st.mean(means):.3f} % "
            f"(min {min(means):.2f}); not_a_digit refused at 0.6: {st.mean(refused):.1f} %"
        )


def tta(root, models):
    images, labels = load_split(root, train=False)
    x = normalize(images)
    for path in models:
        model, _ = load_checkpoint(path)
        row = [path, (predict_logits(model, x).argmax(1) == labels).sum().item()]
        for views in (PLUS, SQUARE):
            logits = sum(predict_logits(model, shifted(x, a, b)) for a, b in views) / len(views)
            row.append((logits.argmax(1) == labels).sum().item())
        print(*row, flush=True)


def tta_time(path):
    net = inference_form(load_checkpoint(path)[0])

    def run(x, views):
        return sum(
            net(shifted(x, a, b).contiguous(memory_format=torch.channels_last)) for a, b in views
        ) / len(views)

    for batch, repeats in ((1000, 5), (1, 200)):
        x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        times = {1: [], 5: [], 9: []}
        with torch.inference_mode():
            for _ in range(7):
                for views in (((0, 0),), PLUS, SQUARE):
                    start = time.perf_counter()
                    for _ in range(repeats):
                        run(x, views) if len(views) > 1 else net(x)
                    times[len(views)].append(time.perf_counter() - start)
        one = st.median(times[1])
        print(
            f"batch {batch}: 5 views {st.median(times[5]) / one:.2f}x, "
            f"9 views {st.median(times[9]) / one:.2f}x one view"
        )


def teacher(root, out, models):
    x, y = load_split(root, train=True)
    x = normalize(x)
    logits = sum(predict_logits(load_checkpoint(p)[0], x) for p in models) / len(models)
    print("ensemble's training accuracy", (logits.argmax(1) == y).float().mean().item())
    torch.save({"logits": logits, "paths": models}, out)


def with_views(root, views, source, out):
    payload = torch.load(source, map_location="cpu", weights_only=True)
    payload["model_config"]["test_time_views"] = int(views)
    torch.save(payload, out)
    model, _ = load_checkpoint(out)
    result = evaluate(model, *load_split(root, train=False))
    metrics = payload["metrics"]
    metrics.update(
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        correct=result.correct,
        per_class_accuracy=result.per_class_accuracy,
    )
    metrics["history"] = [dict(record, test_views=1) for record in metrics["history"]]
    last = metrics["history"][-1]
    last.update(test_loss=result.loss, test_accuracy=result.accuracy, test_views=int(views))
    torch.save(payload, out)
    print(out, f"{100 * result.accuracy:.2f} %")


def same(a, b):
    pa, pb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    weights = all(torch.equal(pa["state_dict"][k], pb["state_dict"][k]) for k in pa["state_dict"])
    keys = ("test_loss", "test_accuracy", "correct", "per_class_accuracy")
    final = all(pa["metrics"][k] == pb["metrics"][k] for k in keys)
    print(
        f"weights identical: {weights}; model config equal: "
        f"{pa['model_config'] == pb['model_config']}; final metrics equal: {final}"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    command, args = sys.argv[1], sys.argv[2:]
    {
        "summary": lambda: summary(args),
        "ood": lambda: ood(args),
        "tta": lambda: tta(args[0], args[1:]),
        "tta-time": lambda: tta_time(args[0]),
        "teacher": lambda: teacher(args[0], args[1], args[2:]),
        "with-views": lambda: with_views(*args),
        "same": lambda: same(*args),
    }[command]()
