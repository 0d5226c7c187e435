"""Floors with a stated false-alarm rate, derived from recorded evidence.

A floor that a good model misses by chance teaches users to ignore the gate. So every
floor in ``thresholds.json`` comes from one rule (``RULE``) applied to the recorded
evaluations of models trained with the default recipe on several seeds and arithmetic
classes (``evidence/``, one small JSON file per model, written by ``record``):

- ``record`` measures one checkpoint on everything the acceptance gate judges;
- ``derive`` turns a set of records into the thresholds file;
- ``judge`` checks one record against a thresholds file, as the gate would.

``mnist-model thresholds record|derive|check`` are the commands.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from pathlib import Path
from statistics import NormalDist

from mnist_model import stats
from mnist_model.errors import MnistModelError
from mnist_model.thresholds import SCHEMA

EVIDENCE_SCHEMA = 1
FAMILY_FALSE_ALARM = 0.01
"""The chance that a good model of the recipe fails at least one derived floor."""
COMPARE_ALPHA = 0.01
"""The level of the champion/challenger test overall (one-sided: the candidate is worse),
and the family-wise level of its Holm-corrected per-digit and per-condition tests."""
MIN_MODELS = 5
PROMISES = {
    "test_set_size": 10_000,
    "parameter_budget": 8_000,
    "overall_accuracy": 0.994,
    "per_class": 0.985,
    "multiseed_mean_accuracy": 0.9945,
    "min_baseline_accuracy": 0.88,
    "png_points_lost": 0.1,
    "plain_points_lost": 0.5,
}
"""What the project promises whatever the evidence says (README): the floors the derived
ones may raise but never lower, the size of the judged set and the parameter budget.
``min_baseline_accuracy`` judges the linear baseline, not the model (a broken baseline
would make any margin meaningless); ``png_points_lost`` is how much the test set as PNG
files through ``predict`` may lose against the in-memory evaluation, and
``plain_points_lost`` how far below the plain preprocessing predict's may be on a
condition of the suite (both in points)."""
VARIANCE_CONFIDENCE = 0.90
"""The seed-to-seed variance is taken at this one-sided upper confidence bound."""
RULE = (
    "For each check, over the M evidence models that measured it: the mean p of the figure "
    "and its sample variance s2. The seed-to-seed variance is taken at its one-sided 90 % "
    "upper confidence bound s2 (M-1) / chi2[0.10, M-1], since it is estimated from M "
    "models; a new good model's figure varies by the larger of that and p(1-p)/n, the "
    "binomial noise of the "
    "check's n pictures, times (1 + 1/M), since the mean is estimated too. A beta-binomial "
    "with that mean and variance gives the floor: the highest count of correct pictures "
    "that a good model misses with probability at most alpha/K, where the K checks share "
    "the family-wise false-alarm rate alpha by Bonferroni's inequality (valid whatever "
    "their dependence). The test loss (an upper bound) and the margin over the linear "
    "baseline take the normal bound z[1 - alpha/K] standard deviations from the mean, with "
    "the same variance. Floors are rounded down to 0.0001 (the test loss up). Where the "
    "project promises a minimum (overall, every digit), the floor is the higher of the two, "
    "and the chance that a good model misses that promise is estimated from the evidence's "
    "mean and spread (a normal) and reported as promise_miss_rate."
)


class CalibrationError(MnistModelError):
    """Evidence that cannot be used: unreadable, of another schema, recipe or suite."""


# --- recording ---------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record(
    *,
    provenance: dict,
    test,
    shift: dict[str, int],
    baseline_correct: int,
    ood: dict[str, tuple[int, int]],
    ood_suite: dict,
    plain: dict[str, tuple[int, int]] | None = None,
) -> dict:
    """One model's evidence: its provenance and every figure the gate judges, as counts.

    ``test`` is the model's ``EvalResult`` on the full test set, ``shift`` its
    ``gate.shift_agreement``, ``ood`` its ``ood.counts`` on the suite ``ood_suite``
    describes (version, per_class, seed), and ``plain`` the same through the plain
    preprocessing (kept beside the floors' figures, not one of them)."""
    extra = {} if plain is None else {"plain_correct": {k: c for k, (c, _) in plain.items()}}
    return {
        "schema": EVIDENCE_SCHEMA,
        "model": provenance,
        "test": {
            "correct": test.correct,
            "total": test.total,
            "loss": test.loss,
            "per_class_correct": [int(v) for v in test.confusion.diagonal().tolist()],
            "per_class_total": [int(v) for v in test.class_counts],
        },
        "shift_agreement": dict(shift),
        "baseline_correct": int(baseline_correct),
        "ood": {
            **ood_suite,
            "correct": {name: c for name, (c, _) in ood.items()},
            "total": {name: n for name, (_, n) in ood.items()},
            **extra,
        },
    }


def load_evidence(paths: list[Path]) -> list[dict]:
    """Every record in ``paths`` (JSON files, or folders of them), in name order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise CalibrationError(f"no evidence at {path}")
    if not files:
        raise CalibrationError(f"no evidence files in {', '.join(map(str, paths))}")
    records = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"evidence {file} is unreadable ({exc})") from None
        if not isinstance(data, dict) or data.get("schema") != EVIDENCE_SCHEMA:
            raise CalibrationError(f"{file} is not an evidence record of schema {EVIDENCE_SCHEMA}")
        data["file"] = file.name
        records.append(data)
    return records


# --- the checks of a record --------------------------------------------------------------
def figures(rec: dict) -> dict[str, tuple[float, int | None]]:
    """``{check: (value, n)}``: a count of correct pictures out of n, or a value with
    n None (the test loss, the margin over the linear baseline)."""
    test = rec["test"]
    out: dict[str, tuple[float, int | None]] = {"overall": (test["correct"], test["total"])}
    for digit, (c, n) in enumerate(
        zip(test["per_class_correct"], test["per_class_total"], strict=True)
    ):
        out[f"per_class/{digit}"] = (c, n)
    out["test_loss"] = (test["loss"], None)
    margin = (test["correct"] - rec["baseline_correct"]) / test["total"]
    out["baseline_margin"] = (margin, None)
    for direction, agree in rec["shift_agreement"].items():
        out[f"shift/{direction}"] = (agree, test["total"])
    for name, correct in rec["ood"]["correct"].items():
        out[f"ood/{name}"] = (correct, rec["ood"]["total"][name])
    return out


def counted_conditions(rec: dict, suite: dict, earlier: dict) -> set[str] | None:
    """The out-of-distribution conditions of ``rec`` that count for ``suite``: all of
    them for a record of that suite; for a record of an earlier version listed in
    ``earlier`` (``{version: conditions unchanged since}``), those conditions; None for
    a record of any other suite."""
    described = {k: rec["ood"].get(k) for k in suite}
    if described == suite:
        return set(rec["ood"]["correct"])
    if {**described, "version": suite["version"]} != suite:
        return None
    shared = earlier.get(str(described["version"]))
    return None if shared is None else set(shared) & set(rec["ood"]["correct"])


def _table(records: list[dict], suite: dict, earlier: dict) -> list[dict]:
    """Each record's figures, an earlier suite's conditions limited to those that count."""
    table = []
    for rec in records:
        counted = counted_conditions(rec, suite, earlier)
        if counted is None:
            described = {k: rec["ood"].get(k) for k in suite}
            raise CalibrationError(
                f"{rec['file']} scored the out-of-distribution suite {described}, not {suite}"
            )
        table.append(
            {k: v for k, v in figures(rec).items() if not k.startswith("ood/") or k[4:] in counted}
        )
    return table


# --- the rule ----------------------------------------------------------------------------
def predictive_variance(values: list[float], binomial: float) -> float:
    """The variance of one more good model's figure (see ``RULE``)."""
    m = len(values)
    chi2 = stats.chi2_quantile(1 - VARIANCE_CONFIDENCE, m - 1)
    upper = statistics.variance(values) * (m - 1) / chi2
    return max(upper, binomial) * (1 + 1 / m)


def count_floor(correct: list[int], n: int, alpha: float) -> dict:
    """The rule for a count: the floor (a count) and what it came from."""
    m = len(correct)
    rates = [c / n for c in correct]
    p = statistics.fmean(rates)
    spread = statistics.variance(rates)
    # A check every evidence model got entirely right still has some chance of a miss.
    p_fit = min(p, (sum(correct) + 0.5) / (m * n + 1))
    binomial = p_fit * (1 - p_fit) / n
    a, b = _beta_parameters(p_fit, predictive_variance(rates, binomial), n)
    # P(X < floor) <= alpha: ``floor`` correct pictures pass, one fewer fails.
    floor = stats.beta_binomial_quantile(alpha, n, a, b)
    return {
        "n": n,
        "models": m,
        "mean": p,
        "sd": math.sqrt(spread),
        "lowest": min(rates),
        "binomial_sd": math.sqrt(binomial),
        "floor_count": floor,
        "floor": math.floor(floor / n * 10_000) / 10_000,
        "beta": (a, b),
    }


def _beta_parameters(p: float, variance: float, n: int) -> tuple[float, float]:
    """Beta(a, b) whose beta-binomial(n) has mean p n and variance ``variance`` n^2."""
    binomial = p * (1 - p) / n
    rho = min(0.999, max(1e-9, (variance / binomial - 1) / (n - 1)))
    total = 1 / rho - 1
    return p * total, (1 - p) * total


def value_bound(values: list[float], alpha: float, *, upper: bool, binomial: float = 0.0) -> dict:
    """The rule for a value: the normal prediction bound at level ``alpha``."""
    mean, spread = statistics.fmean(values), statistics.variance(values)
    half = stats.normal_quantile(1 - alpha) * math.sqrt(predictive_variance(values, binomial))
    bound = mean + half if upper else mean - half
    rounded = math.ceil(bound * 10_000) / 10_000 if upper else math.floor(bound * 10_000) / 10_000
    return {"mean": mean, "sd": math.sqrt(spread), "bound": rounded}


def miss_rate(check: dict, promise: float) -> float:
    """An estimate of the chance that a good model's figure falls under ``promise``: a
    normal with the evidence's mean and seed-to-seed spread (times 1 + 1/M). On the fixed
    test set the seeds disagree less than binomial noise would make them (they share the
    hard images), so this is the estimate; the floors' own rule stays conservative."""
    needed = math.ceil(promise * check["n"] - 1e-9) / check["n"]
    sd = check["sd"] * math.sqrt(1 + 1 / check["models"])
    if sd == 0:
        return 0.0 if check["mean"] >= needed else 1.0
    return NormalDist(check["mean"], sd).cdf(needed - 0.5 / check["n"])


def derive(
    records: list[dict], *, suite: dict, evidence_folder: str, earlier: dict | None = None
) -> dict:
    """The thresholds file's content from ``records`` (see ``RULE``). ``earlier`` maps an
    older suite version to the conditions it shares with ``suite`` picture for picture
    (``ood.EARLIER``): a record of that version is evidence for those conditions only, and
    each check is derived from the records that measured it."""
    earlier = {str(k): list(v) for k, v in (earlier or {}).items()}
    if len(records) < MIN_MODELS:
        raise CalibrationError(f"need at least {MIN_MODELS} evidence models, got {len(records)}")
    if len({r["model"].get("recipe") for r in records}) != 1:
        raise CalibrationError("the evidence mixes models of different recipes")
    table = _table(records, suite, earlier)
    names = list(max(table, key=len))
    if any(not set(t) <= set(names) for t in table):
        raise CalibrationError("the evidence records do not all measure the same checks")
    alpha = FAMILY_FALSE_ALARM / len(names)
    checks: dict[str, dict] = {}
    for name in names:
        rows = [t for t in table if name in t]
        if len(rows) < MIN_MODELS:
            raise CalibrationError(f"{name}: {len(rows)} evidence models, need {MIN_MODELS}")
        values = [t[name][0] for t in rows]
        n = rows[0][name][1]
        if n is None:
            binomial = 0.0
            if name == "baseline_margin":
                p = statistics.fmean(t["overall"][0] / t["overall"][1] for t in rows)
                binomial = p * (1 - p) / rows[0]["overall"][1]
            checks[name] = value_bound(values, alpha, upper=name == "test_loss", binomial=binomial)
        else:
            if any(t[name][1] != n for t in rows):
                raise CalibrationError(f"the evidence judged {name} on different numbers")
            checks[name] = count_floor(values, n, alpha)
    data = _thresholds(records, checks, alpha, {**suite, "earlier": earlier}, evidence_folder)
    data["compare"] = compare_bars(table)
    return data


def compare_bars(table: list[dict]) -> dict:
    """The champion/challenger gate's numbers: its levels, and for the test set, each digit
    and each condition the net loss in images that two good models of the recipe exceed
    with a chance of at most the level (Bonferroni over the breakdown's checks). A good
    model's variance is the rule's (``predictive_variance``); a difference of two has
    twice it."""
    names = {"overall": "overall"}
    names.update({f"per_class/{d}": f"digit {d}" for d in range(10)})
    names.update({k: f"ood {k[4:]}" for k in max(table, key=len) if k.startswith("ood/")})
    breakdown = len(names) - 1
    limits = {}
    for check, key in names.items():
        rows = [t for t in table if check in t]
        n = rows[0][check][1]
        rates = [t[check][0] / n for t in rows]
        p = statistics.fmean(rates)
        binomial = p * (1 - p) / n
        level = COMPARE_ALPHA if key == "overall" else COMPARE_ALPHA / breakdown
        sd = math.sqrt(2 * predictive_variance(rates, binomial)) * n
        limits[key] = math.ceil(stats.normal_quantile(1 - level) * sd)
    return {
        "alpha": COMPARE_ALPHA,
        "alpha_breakdown": COMPARE_ALPHA,
        "max_net_loss": limits,
        "rule": (
            "Overall: fail if the exact one-sided McNemar p that the candidate is worse is "
            "below alpha, or if its net loss in images exceeds max_net_loss. Per digit and "
            "per condition: fail if the Holm-adjusted p is below alpha_breakdown and the net "
            "loss exceeds max_net_loss (models of one recipe truly differ on some "
            "conditions, so significance alone would flag good models). max_net_loss: z at "
            "alpha (overall) or alpha / K (the K breakdown checks) times the standard "
            "deviation of the difference of two good models' counts, each with the floors' "
            "predictive variance."
        ),
    }


def _promised(checks: dict, name: str, promise: float) -> float:
    check = checks[name]
    check["promise"] = promise
    check["binding"] = "promise" if promise >= check["floor"] else "evidence"
    check["promise_miss_rate"] = miss_rate(check, promise)
    return max(promise, check["floor"])


def _thresholds(records, checks, alpha, suite, evidence_folder) -> dict:
    per_class = {
        str(d): _promised(checks, f"per_class/{d}", PROMISES["per_class"]) for d in range(10)
    }
    overall = _promised(checks, "overall", PROMISES["overall_accuracy"])
    shift = min(checks[f"shift/{d}"]["floor"] for d in records[0]["shift_agreement"])
    ood_floors = {
        name[4:]: check["floor"] for name, check in checks.items() if name.startswith("ood/")
    }
    models = [r["model"] for r in records]
    classes = sorted({m["arithmetic_class"] for m in models})
    promise_misses = sum(c.get("promise_miss_rate", 0.0) for c in checks.values())
    for check in checks.values():
        check.pop("beta", None)
    return {
        "schema": SCHEMA,
        "description": (
            "The quality bar of the acceptance gate. Every floor is derived by `mnist-model "
            "thresholds derive` from the evidence folder under derivation.evidence (rule: "
            "derivation.rule); tests/unit/test_calibration.py fails if a number here is "
            "not what that command computes, and tests/unit/test_thresholds_contract.py if "
            "a promise is lowered. To change a floor, change the evidence or the rule and "
            "derive again."
        ),
        "test_set_size": PROMISES["test_set_size"],
        "parameter_budget": PROMISES["parameter_budget"],
        "overall_accuracy": overall,
        "per_class": per_class,
        "max_test_loss": checks["test_loss"]["bound"],
        "baseline_margin": checks["baseline_margin"]["bound"],
        "min_baseline_accuracy": PROMISES["min_baseline_accuracy"],
        "png_points_lost": PROMISES["png_points_lost"],
        "plain_points_lost": PROMISES["plain_points_lost"],
        "shift_agreement": shift,
        "multiseed_mean_accuracy": PROMISES["multiseed_mean_accuracy"],
        "ood": {**suite, "floors": ood_floors},
        "derivation": {
            "rule": RULE,
            "family_false_alarm": FAMILY_FALSE_ALARM,
            "checks": len(checks),
            "per_check_false_alarm": alpha,
            "promise_miss_rate_sum": promise_misses,
            "evidence": {
                "folder": evidence_folder,
                "models": len(records),
                "files": {r["file"]: _record_hash(r) for r in records},
                "recipe": models[0]["recipe"],
                "arithmetic_classes": {
                    c: sorted(m["seed"] for m in models if m["arithmetic_class"] == c)
                    for c in classes
                },
                "torch": sorted({m["torch"] for m in models}),
            },
            "checks_detail": checks,
        },
    }


def _record_hash(rec: dict) -> str:
    body = {k: v for k, v in rec.items() if k != "file"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def rounded(data):
    """Floats rounded to 10 significant digits: the file reads the same on every machine."""
    if isinstance(data, float):
        return float(f"{data:.10g}")
    if isinstance(data, dict):
        return {k: rounded(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [rounded(v) for v in data]
    return data


# --- judging a record offline -------------------------------------------------------------
def judge(rec: dict, bars: dict) -> list[str]:
    """The checks ``rec`` fails against the thresholds ``bars``, as the gate words them. A
    record of an earlier suite version (``bars["ood"]["earlier"]``) is judged on the
    conditions it shares with the floors' suite."""
    from mnist_model.gate import core_failures

    test = rec["test"]
    failed = core_failures(test["per_class_correct"], test["per_class_total"], bars)
    accuracy = test["correct"] / test["total"]
    if not test["loss"] <= bars["max_test_loss"]:
        failed.append(f"test loss {test['loss']:.4f}")
    baseline = rec["baseline_correct"] / test["total"]
    if not baseline >= bars["min_baseline_accuracy"]:
        failed.append(f"linear baseline {100 * baseline:.2f}%")
    if not accuracy - baseline >= bars["baseline_margin"]:
        failed.append(f"margin {100 * (accuracy - baseline):.2f} points")
    for direction, agree in rec["shift_agreement"].items():
        if not agree / test["total"] >= bars["shift_agreement"]:
            failed.append(f"shift {direction} {100 * agree / test['total']:.2f}%")
    suite = {k: bars["ood"][k] for k in ("version", "per_class", "seed")}
    counted = counted_conditions(rec, suite, bars["ood"].get("earlier", {}))
    if counted is None:
        described = {k: rec["ood"].get(k) for k in suite}
        failed.append(f"ood suite {described} is not the one the floors are for")
        return failed
    for name, floor in bars["ood"]["floors"].items():
        if name not in counted and rec["ood"]["version"] == suite["version"]:
            failed.append(f"ood {name} not measured")
        elif name in counted:
            c, n = rec["ood"]["correct"][name], rec["ood"]["total"][name]
            if not c / n >= floor:
                failed.append(f"ood {name} {100 * c / n:.1f}%")
    return failed


# --- measuring a checkpoint ---------------------------------------------------------------
def measure(
    path: Path,
    *,
    test_xy,
    suite,
    suite_description: dict,
    baseline_correct: int,
    arithmetic_class: str | None = None,
    plain_suite=None,
) -> dict:
    """The evidence record of the checkpoint at ``path``: the test set, one-pixel shifts
    and the prepared out-of-distribution ``suite`` (and ``plain_suite``, the same pictures
    through the plain preprocessing), measured as the gate measures them.
    ``arithmetic_class`` defaults to the class the checkpoint's precision has on this
    machine under this process's ISA limits (record where you trained)."""
    from mnist_model import gate, ood
    from mnist_model.autotune import _cpu_model
    from mnist_model.autotune import arithmetic_class as class_here
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.config import recipe_fingerprint
    from mnist_model.evaluate import evaluate

    model, payload = load_checkpoint(path)
    train_config, metrics = payload.get("train_config", {}), payload.get("metrics", {})
    arithmetic = metrics.get("arithmetic") or {}
    precision = arithmetic.get("precision", train_config.get("precision"))
    provenance = {
        "seed": train_config.get("seed"),
        # older checkpoints kept the machine's settings in the train config
        "threads": (metrics.get("machine") or train_config).get("threads"),
        "precision": precision,
        "layout": arithmetic.get("layout"),
        "arithmetic_class": arithmetic_class
        or class_here(precision, str(metrics.get("device", "cpu"))),
        "recipe": recipe_fingerprint(train_config, payload["model_config"]),
        "torch": payload.get("versions", {}).get("torch"),
        "cpu": _cpu_model(),
        "checkpoint_sha256": sha256_file(path),
    }
    return record(
        provenance=provenance,
        test=evaluate(model, *test_xy),
        shift=gate.shift_agreement(model, test_xy[0]),
        baseline_correct=baseline_correct,
        ood=ood.counts(suite, ood.predictions(model, suite)),
        ood_suite=suite_description,
        plain=None
        if plain_suite is None
        else ood.counts(plain_suite, ood.predictions(model, plain_suite)),
    )


def _ranges(seeds: list[int]) -> str:
    """[0, 1, 2, 3, 4, 10] -> '0-4,10'."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def class_table(records: list[dict]) -> str:
    """Each arithmetic class's seeds, their test accuracies, mean +- sd and lowest digit."""
    by_class: dict[str, list[dict]] = {}
    for rec in records:
        by_class.setdefault(rec["model"]["arithmetic_class"], []).append(rec)
    lines = [f"{'arithmetic class':<18}{'seeds':<9}{'mean':>8}{'sd':>7}{'min':>8}  lowest digit"]
    every = []
    for name, group in sorted(by_class.items()):
        accuracies = [100 * r["test"]["correct"] / r["test"]["total"] for r in group]
        every += accuracies
        seeds = sorted(r["model"]["seed"] for r in group)
        lowest = min(
            (100 * c / n, d)
            for r in group
            for d, (c, n) in enumerate(
                zip(r["test"]["per_class_correct"], r["test"]["per_class_total"], strict=True)
            )
        )
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        shown = _ranges(seeds)
        lines.append(
            f"{name:<18}{shown:<9}{statistics.fmean(accuracies):8.3f}{spread:7.3f}"
            f"{min(accuracies):8.2f}  {lowest[1]}: {lowest[0]:.2f}"
        )
    spread = statistics.stdev(every) if len(every) > 1 else 0.0
    lines.append(
        f"{'all':<18}{len(every):<9}{statistics.fmean(every):8.3f}{spread:7.3f}{min(every):8.2f}"
    )
    return "\n".join(lines)
