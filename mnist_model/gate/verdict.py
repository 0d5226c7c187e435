"""The one verdict engine: every check of the gate, its figure, its bound, where the bound
comes from, and pass or fail.

``judge`` takes a record (``measure.gate_record`` of a live model, or an evidence file)
and the thresholds, and returns a ``Verdict``. It judges each section the record holds
and no other: an evidence file has no PNG round trip, so ``thresholds check`` judges
what was recorded. The acceptance tests assert on its checks one by one, and
``mnist-model gate``, ``ood``, ``thresholds check``, the model card and the CI job
summary print it; none of them compares a figure with a floor on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mnist_model.gate import evidence, stats
from mnist_model.gate.floors import FAMILY_FALSE_ALARM
from mnist_model.inference import LOGIT_ATOL
from mnist_model.predict.preprocess import PURPOSES

DIGITS = tuple(f"digit {d}" for d in range(10))
CORE = ("overall", *DIGITS, "parameters")
"""What every model of a multi-seed run must clear on its own."""


@dataclass(frozen=True)
class Check:
    """One check: ``passed`` compares ``figure`` with ``bound`` by ``rule``."""

    name: str
    figure: float
    bound: float
    rule: str
    """``>=``, ``>``, ``<=``, ``<`` or ``==`` (the figure against the bound)."""
    source: str
    """Where the bound comes from: a promise, the evidence, a paired test."""
    passed: bool
    unit: str = "%"
    """How the figure and bound are shown: ``%`` (fractions), ``points``, or ``""``."""
    note: str = ""
    applicable: bool = True
    """False for a check that means nothing for this model (``note`` says why): shown as
    ``n/a``, neither passed nor failed."""

    def shown(self, value: float) -> str:
        if self.unit == "%":
            return f"{100 * value:.2f} %"
        if self.unit == "points":
            return f"{100 * value:+.2f} points"
        if float(value).is_integer() and abs(value) < 1e15:  # a count: 10,000, not 1e+04
            return f"{int(value):,}"
        return f"{value:,.4g}"

    @property
    def status(self) -> str:
        return "n/a" if not self.applicable else "pass" if self.passed else "FAIL"

    @property
    def reason(self) -> str:
        """One line: the check, its figure and its bound (and why, when it failed)."""
        if not self.applicable:
            return f"{self.name}: not applicable: {self.note}"
        line = f"{self.name}: {self.shown(self.figure)}, needs {self.rule} "
        line += self.shown(self.bound)
        return line + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    floors: str
    """Whose evidence the floors come from (``floors_origin``)."""

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"the verdict has no check {name!r}")

    def __contains__(self, name: str) -> bool:
        return any(c.name == name for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.applicable and not c.passed]

    @property
    def not_applicable(self) -> list[Check]:
        return [c for c in self.checks if not c.applicable]

    @property
    def passed(self) -> bool:
        return not self.failed

    def only(self, names) -> Verdict:
        wanted = set(names)
        return Verdict(tuple(c for c in self.checks if c.name in wanted), self.floors)

    def text(self) -> str:
        """One line a check, then the verdict."""
        lines = [f"{'':<6}{'check':<28}{'figure':>14}  {'bound':<17}{'from'}"]
        for c in self.checks:
            if not c.applicable:
                lines.append(f"{c.status:<6}{c.name:<28}{'':>14}  not applicable: {c.note}")
                continue
            bound = f"{c.rule} {c.shown(c.bound)}"
            lines.append(f"{c.status:<6}{c.name:<28}{c.shown(c.figure):>14}  {bound:<17}{c.source}")
        lines.append(f"floors: {self.floors}")
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        skipped = len(self.not_applicable)
        judged = len(self.checks) - skipped
        also = f", {skipped} not applicable" if skipped else ""
        if self.passed:
            return f"verdict: PASS ({judged} checks{also})"
        return f"verdict: FAIL ({len(self.failed)} of {judged} checks failed{also})"

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "checks": [{**asdict(c), "reason": c.reason} for c in self.checks],
            "failed": [c.name for c in self.failed],
            "not_applicable": [c.name for c in self.not_applicable],
            "floors": self.floors,
        }


RULES = {">=": float.__ge__, ">": float.__gt__, "<=": float.__le__, "<": float.__lt__}


def _check(name, figure, rule, bound, source, unit="%", note="", passed=None) -> Check:
    """A check that passes when ``figure rule bound`` (or as ``passed`` says, where more
    than the one comparison decides)."""
    if passed is None:
        passed = RULES[rule](float(figure), float(bound))
    return Check(name, figure, bound, rule, source, bool(passed), unit, note)


def _not_applicable(name: str, why: str) -> Check:
    return Check(name, 0.0, 0.0, "", why, False, "", why, applicable=False)


def _at_least(name, figure, bound, source, unit="%", note="") -> Check:
    return _check(name, figure, ">=", bound, source, unit, note)


def floors_origin(bars: dict, recipe: str | None = None) -> str:
    """Whose evidence the floors come from (the models, their recipe and classes), and
    whether the judged model, of ``recipe``, is of that recipe."""
    found = bars.get("derivation", {}).get("evidence")
    if found is None:
        return "no derivation stated"
    classes = ", ".join(sorted(found["arithmetic_classes"]))
    origin = (
        f"derived from {found['models']} recorded models of recipe {found['recipe']} "
        f"({found['folder']}; {classes})"
    )
    if recipe == found["recipe"]:
        return origin + "; the judged model is of that recipe"
    judged = f"of recipe {recipe}" if recipe else "of an unrecorded recipe"
    return (
        f"{origin}. WARNING: the judged model is {judged}: these floors say what models of "
        "that recipe reach, not what yours should; derive your own (docs/gate.md)"
    )


def _binding(bars: dict, check: str) -> str:
    detail = bars["derivation"]["checks_detail"].get(check, {})
    return "promise" if detail.get("binding") == "promise" else "evidence"


def _test_checks(rec: dict, bars: dict) -> list[Check]:
    test = rec["test"]
    total, size = test["total"], bars["test_set_size"]
    checks = [
        _check("test set size", total, "==", size, "promise", "", passed=total == size),
        _at_least(
            "overall", test["correct"] / total, bars["overall_accuracy"], _binding(bars, "overall")
        ),
    ]
    for digit, (c, n) in enumerate(
        zip(test["per_class_correct"], test["per_class_total"], strict=True)
    ):
        floor = bars["per_class"][str(digit)]
        checks.append(
            _at_least(
                DIGITS[digit], c / n if n else 0.0, floor, _binding(bars, f"per_class/{digit}")
            )
        )
    checks.append(_check("test loss", test["loss"], "<=", bars["max_test_loss"], "evidence", ""))
    return checks


def _pixel_checks(rec: dict, bars: dict) -> list[Check]:
    test = rec["test"]
    regression = rec["baseline_correct"] / test["total"]
    margin = test["correct"] / test["total"] - regression
    return [
        _at_least("pixel regression", regression, bars["min_pixel_regression_accuracy"], "promise"),
        _at_least("pixel margin", margin, bars["pixel_margin"], "evidence", "points"),
    ]


def _shift_checks(rec: dict, bars: dict) -> list[Check]:
    total = rec["test"]["total"]
    return [
        _at_least(f"shift {d}", agree / total, bars["shift_agreement"], "evidence")
        for d, agree in rec["shift_agreement"].items()
    ]


def _ood_checks(rec: dict, bars: dict) -> list[Check]:
    """The suite is the floors' (or an earlier version whose shared conditions count),
    then every condition the record measured at or above its floor."""
    suite = {k: bars["ood"][k] for k in ("version", "per_class", "seed")}
    counted = evidence.counted_conditions(rec, suite, bars["ood"].get("earlier", {}))
    floors = bars["ood"]["floors"]
    same = rec["ood"].get("version") == suite["version"]
    totals = set(rec["ood"]["total"].values())
    fits = counted is not None and (
        not same or (set(counted) == set(floors) and totals <= {10 * suite["per_class"]})
    )
    described = {k: rec["ood"].get(k) for k in suite}
    note = ""
    if counted is None or not same:
        note = "" if fits else f"suite {described}, floors for {suite}"
    elif not fits:
        missing = sorted(set(floors) - set(counted))
        note = f"not measured: {', '.join(missing)}" if missing else f"totals {sorted(totals)}"
    checks = [_check("ood suite", float(fits), ">=", 1.0, "thresholds", "", note)]
    for name, floor in floors.items():
        if name in (counted or ()):
            c, n = rec["ood"]["correct"][name], rec["ood"]["total"][name]
            checks.append(_at_least(f"ood {name}", c / n, floor, "evidence"))
    return checks


def _plain_checks(rec: dict, bars: dict) -> list[Check]:
    """predict's preprocessing against the plain one, condition by condition: fails where
    the paired difference is surely below -``plain_points_lost`` (its exact upper bound at
    one-sided level FAMILY_FALSE_ALARM / conditions, Bonferroni), or, on a condition a
    step of predict's exists for (``PURPOSES``), where it got no more pictures right (an
    MnistNet's record: the steps were designed for it)."""
    pairs = rec["plain_pairs"]
    # A step's purpose is a claim about predict's design for this project's network; for
    # another architecture every condition gets the promise alone.
    purposes = PURPOSES if rec.get("architecture", {}).get("mnistnet", True) else ()
    tolerance = bars["plain_points_lost"] / 100
    level = 1 - 2 * FAMILY_FALSE_ALARM / len(pairs)
    checks = []
    for name, pair in pairs.items():
        n, lost, won = pair["n"], pair["plain_only"], pair["default_only"]
        low, high = stats.paired_difference_interval(lost, won, n, level)
        difference = (won - lost) / n
        bounds = f"difference {100 * difference:+.1f}, bounds {100 * low:+.1f} .. {100 * high:+.1f}"
        if name in purposes:  # wins, and is not surely worse either
            passed = high >= -tolerance and difference > 0
            checks.append(
                _check(f"plain {name}", difference, ">", 0.0, "purpose", "points", bounds, passed)
            )
        else:
            checks.append(
                _check(
                    f"plain {name}",
                    high,
                    ">=",
                    -tolerance,
                    "promise",
                    "points",
                    f"upper bound; {bounds}",
                )
            )
    return checks


def _png_checks(rec: dict, bars: dict) -> list[Check]:
    """The test set as PNG files through ``predict``: within ``png_points_lost`` of the
    in-memory accuracy, and every file read."""
    test = rec["test"]
    bound = test["correct"] / test["total"] - bars["png_points_lost"] / 100
    checks = []
    for name, found in rec["png"].items():
        if found is None:
            checks.append(_not_applicable(f"png {name}", LIVE_ONLY))
            continue
        figure = found["correct"] / test["total"]
        passed = figure >= bound and found["unreadable"] == 0
        note = f"in memory - png_points_lost; {found['unreadable']} files unreadable"
        checks.append(_check(f"png {name}", figure, ">=", bound, "promise", "%", note, passed))
    return checks


LIVE_ONLY = "predictions only: no model to run or inspect"


def _architecture_checks(rec: dict, bars: dict) -> list[Check]:
    found = rec["architecture"]
    if found.get("live") is False:
        return [_not_applicable(n, LIVE_ONLY) for n in ("parameters", "family", "inference form")]
    count, budget = found["parameters"], bars["parameter_budget"]
    if budget is None:
        checks = [_not_applicable("parameters", f"no parameter budget promised ({count:,})")]
    else:
        checks = [_check("parameters", count, "<", budget, "promise", "")]
    if not found["mnistnet"]:
        why = f"not an MnistNet ({found['class']}, {found.get('format', 'module')})"
        return checks + [_not_applicable("family", why), _not_applicable("inference form", why)]
    family = not found["strangers"]
    note = f"{found['class']}; layers outside the family: {found['strangers']}"
    checks.append(_check("family", float(family), ">=", 1.0, "MnistNet", "", note))
    if "inference_form" in found:
        form = found["inference_form"]
        same = form["same_predictions"] and form["max_logit_difference"] <= LOGIT_ATOL
        note = "same predictions" if form["same_predictions"] else "predictions differ"
        difference = form["max_logit_difference"]
        checks.append(
            _check("inference form", difference, "<=", LOGIT_ATOL, "LOGIT_ATOL", "", note, same)
        )
    return checks


def _paired_checks(comparison: dict, bars: dict) -> list[Check]:
    """Not worse than the accepted model: overall by the exact one-sided McNemar p and the
    net loss in images; per digit and per condition, worse only where the Holm-adjusted p
    is significant and the net loss is more than two good models differ by."""
    rules = bars["compare"]
    overall, limits = comparison["overall"], rules["max_net_loss"]
    counts = f"{overall['baseline_only']} lost, {overall['candidate_only']} gained"
    checks = [
        _check("paired overall", overall["p_worse"], ">=", rules["alpha"], "McNemar", "", counts),
        _check("paired net loss", -overall["net"], "<=", limits["overall"], "evidence", "", counts),
    ]
    for key, value in comparison["breakdown"].items():
        worse = value["p_holm"] < rules["alpha_breakdown"] and -value["net"] > limits[key]
        note = (
            f"Holm p = {value['p_holm']:.2g}; {value['baseline_only']} lost, "
            f"{value['candidate_only']} gained"
        )
        checks.append(
            _check(
                f"paired {key}", -value["net"], "<=", limits[key], "evidence", "", note, not worse
            )
        )
    return checks


REFUSALS = tuple(evidence.REFUSAL_CHECKS)
"""The refusal checks, by name (``refusal test``, ``refusal digits``, ``refusal not_a_digit``)."""


def _refusal_checks(rec: dict, bars: dict) -> list[Check]:
    """At the derived confidence: the MNIST test digits and the suite's digit pictures
    ``predict`` answers, and the pictures of no single digit it refuses, each at or above
    its floor; not applicable where the thresholds derive no refusal or the record counted
    none."""
    rules = bars.get("refusal") or {}
    confidence = rules.get("min_confidence")
    if confidence is None or not rules.get("floors"):
        why = (
            "these thresholds' evidence counted no refusals"
            if not rules
            else "no confidence keeps a good model's false refusals under "
            f"{rules.get('max_false_refusal', 0):.0%} of the test digits (their evidence)"
        )
        return [_not_applicable(f"refusal {name}", why) for name in REFUSALS]
    found = evidence.refusal_figures(rec, confidence)
    if not found:
        why = f"the record counted no refusals at confidence {confidence}"
        return [_not_applicable(f"refusal {name}", why) for name in REFUSALS]
    what = {"test": "answered", "digits": "answered", "not_a_digit": "refused"}
    checks = []
    for name, floor in rules["floors"].items():
        count, n = found[f"refusal/{name}"]
        note = f"{what[name]} at confidence {confidence}"
        checks.append(_at_least(f"refusal {name}", count / n, floor, "evidence", "%", note))
    return checks


SECTIONS = (
    ("test", _test_checks),
    ("baseline_correct", _pixel_checks),
    ("shift_agreement", _shift_checks),
    ("ood", _ood_checks),
    ("refusal", _refusal_checks),
    ("plain_pairs", _plain_checks),
    ("png", _png_checks),
    ("architecture", _architecture_checks),
)
"""Each section a record may hold, and the checks judging it, in the verdict's order."""


def judge(rec: dict, bars: dict, *, comparison: dict | None = None) -> Verdict:
    """Every check of the gate that ``rec`` has the figures for, against ``bars`` (the
    thresholds file), and with ``comparison`` (``paired.compare``) the paired checks."""
    checks: list[Check] = []
    for section, judged in SECTIONS:
        if rec.get(section) is not None:
            checks += judged(rec, bars)
    if comparison is not None:
        checks += _paired_checks(comparison, bars)
    recipe = (rec.get("model") or {}).get("recipe")
    return Verdict(tuple(checks), floors_origin(bars, recipe))


def seeds_check(mean_accuracy: float, bars: dict) -> Check:
    """The multi-seed mode's mean over its seeds against its bar."""
    if bars["multiseed_mean_accuracy"] is None:
        return _not_applicable("seeds mean", "no mean accuracy over seeds promised")
    return _at_least("seeds mean", mean_accuracy, bars["multiseed_mean_accuracy"], "promise")
