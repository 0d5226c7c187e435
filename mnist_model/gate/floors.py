"""Floors with a stated false-alarm rate, derived from recorded evidence.

A floor that a good model misses by chance teaches users to ignore the gate. So every
floor in ``thresholds.json`` comes from one rule (``RULE``) applied to the recorded
evaluations of models trained with one recipe on several seeds and arithmetic classes
(``evidence/``, one small JSON file per model: ``mnist_model.gate.evidence``). ``derive``
turns a set of records into the thresholds file's content; ``mnist-model thresholds
derive`` is the command.
"""

from __future__ import annotations

import math
import statistics
from statistics import NormalDist

from mnist_model.data.checksums import json_sha256
from mnist_model.gate import evidence, stats
from mnist_model.gate.evidence import EvidenceError
from mnist_model.gate.thresholds import SCHEMA

FAMILY_FALSE_ALARM = 0.01
"""The chance that a good model of the recipe fails at least one derived floor."""
COMPARE_ALPHA = 0.01
"""The level of the champion/challenger test overall (one-sided: the candidate is worse),
and the family-wise level of its Holm-corrected per-digit and per-condition tests."""
MIN_MODELS = 5
PROMISES = {
    "parameter_budget": 8_000,
    "overall_accuracy": 0.994,
    "per_class": 0.985,
    "multiseed_mean_accuracy": 0.9945,
}
"""What this project promises of its model whatever the evidence says (README): the floors
the derived ones may raise but never lower, and the parameter budget (fewer than). A
user's derivation takes its own (``mnist-model thresholds derive --promise``)."""
TOLERANCES = {
    "test_set_size": 10_000,
    "min_pixel_regression_accuracy": 0.88,
    "png_points_lost": 0.1,
    "plain_points_lost": 0.5,
}
"""What holds for every model: the size of the judged set; ``min_pixel_regression_accuracy``
judges the pixel regression, not the model (a broken opponent would make any margin
meaningless); ``png_points_lost`` is how much the test set as PNG files through
``predict`` may lose against the in-memory evaluation, and ``plain_points_lost`` how far
below the plain preprocessing predict's may be on a condition of the suite (both in
points)."""
CONFIDENCE_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
"""The confidences (the model's top softmax probability) at which a record counts what
``predict`` would answer and refuse (``evidence.REFUSAL_KEYS``)."""
MAX_FALSE_REFUSAL = 0.01
"""``predict`` answers "no single digit" below a confidence chosen so that a good model of
the recipe refuses at most this share of MNIST's test digits (``min_confidence``)."""
REFUSAL_RULE = (
    "predict refuses a picture whose top probability is below min_confidence: the highest "
    "confidence of the grid at which the floors' rule, applied to the evidence models' "
    "counts of test digits answered, gives a floor of at least (1 - max_false_refusal) of "
    "the test set, so that a good model refuses at most that share of MNIST's test digits "
    "but with probability alpha/K. At that confidence the same rule gives the floors of "
    "the digits answered (test set; the suite's digit pictures, all conditions together) "
    "and of the pictures of no single digit refused."
)
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
    "their dependence). The test loss (an upper bound) and the margin over the pixel "
    "regression take the normal bound z[1 - alpha/K] standard deviations from the mean, with "
    "the same variance. Floors are rounded down to 0.0001 (the test loss up). Where the "
    "project promises a minimum (overall, every digit), the floor is the higher of the two, "
    "and the chance that a good model misses that promise is estimated from the evidence's "
    "mean and spread (a normal) and reported as promise_miss_rate."
)


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
    records: list[dict],
    *,
    suite: dict,
    evidence_folder: str,
    earlier: dict | None = None,
    promises: dict | None = None,
) -> dict:
    """The thresholds file's content from ``records`` (see ``RULE``). ``earlier`` maps an
    older suite version to the conditions it shares with ``suite`` picture for picture
    (``ood.EARLIER``): a record of that version is evidence for those conditions only, and
    each check is derived from the records that measured it. ``promises`` (``PROMISES``'
    keys, this project's by default) are floors the evidence may raise but not lower; a
    promise left out leaves the derived floor alone (no parameter budget, no multi-seed
    mean). The tolerances (``TOLERANCES``) hold for every model."""
    promises = dict(PROMISES if promises is None else promises)
    earlier = {str(k): list(v) for k, v in (earlier or {}).items()}
    if len(records) < MIN_MODELS:
        raise EvidenceError(f"need at least {MIN_MODELS} evidence models, got {len(records)}")
    if len({r["model"].get("recipe") for r in records}) != 1:
        raise EvidenceError("the evidence mixes models of different recipes")
    table = evidence.table(records, suite, earlier)
    refusing = [r for r in records if r.get("refusal")]
    checks_count = len(max(table, key=len)) + (len(evidence.REFUSAL_CHECKS) if refusing else 0)
    confidence = min_confidence(records, suite, earlier, FAMILY_FALSE_ALARM / checks_count)
    table = evidence.table(records, suite, earlier, confidence)
    names = list(max(table, key=len))
    if any(not set(t) <= set(names) for t in table):
        raise EvidenceError("the evidence records do not all measure the same checks")
    alpha = FAMILY_FALSE_ALARM / len(names)
    checks: dict[str, dict] = {}
    for name in names:
        rows = [t for t in table if name in t]
        if len(rows) < MIN_MODELS:
            raise EvidenceError(f"{name}: {len(rows)} evidence models, need {MIN_MODELS}")
        values = [t[name][0] for t in rows]
        n = rows[0][name][1]
        if n is None:
            binomial = 0.0
            if name == "pixel_margin":
                p = statistics.fmean(t["overall"][0] / t["overall"][1] for t in rows)
                binomial = p * (1 - p) / rows[0]["overall"][1]
            checks[name] = value_bound(values, alpha, upper=name == "test_loss", binomial=binomial)
        else:
            if any(t[name][1] != n for t in rows):
                raise EvidenceError(f"the evidence judged {name} on different numbers")
            checks[name] = count_floor(values, n, alpha)
    data = _thresholds(
        records, checks, alpha, {**suite, "earlier": earlier}, evidence_folder, promises
    )
    data["compare"] = compare_bars(table)
    if refusing:
        data["refusal"] = {
            "min_confidence": confidence,
            "max_false_refusal": MAX_FALSE_REFUSAL,
            "floors": {
                name: checks[f"refusal/{name}"]["floor"]
                for name in evidence.REFUSAL_CHECKS
                if f"refusal/{name}" in checks
            },
            "rule": REFUSAL_RULE,
        }
    return data


def min_confidence(records: list[dict], suite: dict, earlier: dict, alpha: float) -> float | None:
    """The highest confidence of the records' grid at which a good model refuses at most
    ``MAX_FALSE_REFUSAL`` of the test digits but with probability ``alpha`` (the floors'
    rule on the test digits answered; ``REFUSAL_RULE``); None if no record of this suite
    counted refusals, or if even the grid's lowest refuses more."""
    measured = [
        r
        for r in records
        if r.get("refusal")
        and evidence.counted_conditions(r, suite, earlier) == set(r["ood"]["correct"])
    ]
    if len(measured) < MIN_MODELS:
        return None
    grid = measured[0]["refusal"]["grid"]
    if any(r["refusal"]["grid"] != grid for r in measured):
        raise EvidenceError("the evidence records counted refusals at different confidences")
    chosen = None
    for k, confidence in enumerate(grid):
        n = measured[0]["refusal"]["test_total"]
        floor = count_floor([r["refusal"]["test_sure"][k] for r in measured], n, alpha)
        if floor["floor_count"] >= (1 - MAX_FALSE_REFUSAL) * n:
            chosen = confidence
    return chosen


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


def _promised(checks: dict, name: str, promise: float | None) -> float:
    check = checks[name]
    if promise is None:
        return check["floor"]
    check["promise"] = promise
    check["binding"] = "promise" if promise >= check["floor"] else "evidence"
    check["promise_miss_rate"] = miss_rate(check, promise)
    return max(promise, check["floor"])


def _thresholds(records, checks, alpha, suite, evidence_folder, promises) -> dict:
    per_class = {
        str(d): _promised(checks, f"per_class/{d}", promises.get("per_class")) for d in range(10)
    }
    overall = _promised(checks, "overall", promises.get("overall_accuracy"))
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
            "derivation.rule); tests/unit/gate/test_floors.py fails if a number here is "
            "not what that command computes, and tests/unit/gate/test_thresholds_contract.py if "
            "a promise is lowered. To change a floor, change the evidence or the rule and "
            "derive again."
        ),
        "test_set_size": TOLERANCES["test_set_size"],
        "parameter_budget": promises.get("parameter_budget"),
        "overall_accuracy": overall,
        "per_class": per_class,
        "max_test_loss": checks["test_loss"]["bound"],
        "pixel_margin": checks["pixel_margin"]["bound"],
        "min_pixel_regression_accuracy": TOLERANCES["min_pixel_regression_accuracy"],
        "png_points_lost": TOLERANCES["png_points_lost"],
        "plain_points_lost": TOLERANCES["plain_points_lost"],
        "shift_agreement": shift,
        "multiseed_mean_accuracy": promises.get("multiseed_mean_accuracy"),
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
                "files": {r["file"]: json_sha256(r, without="file")[:16] for r in records},
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


def rounded(data):
    """Floats rounded to 10 significant digits: the file reads the same on every machine."""
    if isinstance(data, float):
        return float(f"{data:.10g}")
    if isinstance(data, dict):
        return {k: rounded(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [rounded(v) for v in data]
    return data
