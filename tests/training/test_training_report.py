"""The training report page, rendered from a real bundle's manifest, and `python -m training report`."""

import copy
import json
import re
import shutil

import pytest

from training.__main__ import main
from training.report import TOP_FEATURES, render_training_report, write_training_report

SECTIONS = ["Training report", "Metrics on held-out data", "Calibration", "Feature importance", "Stage mix of the data"]
PLOTS = 5  # a reliability plot per model, an importance chart per model, the stage mix


@pytest.fixture(scope="module")
def manifest(trained_registry) -> dict:
    version = (trained_registry / "CURRENT").read_text().strip()
    return json.loads((trained_registry / version / "manifest.json").read_text())


@pytest.fixture(scope="module")
def page(manifest) -> str:
    return render_training_report(manifest)


def svgs(page: str) -> dict[str, str]:
    """Each plot's markup by its aria-label."""
    return {label: body for label, body in re.findall(r"<svg[^>]*aria-label='([^']*)'[^>]*>(.*?)</svg>", page, re.S)}


def test_page_has_every_section_the_version_and_one_svg_per_plot(page, manifest):
    for heading in SECTIONS:
        assert re.search(rf"<h[12]>{heading}</h[12]>", page), heading
    assert manifest["version"] in page
    assert page.count("<svg") == PLOTS
    assert set(svgs(page)) == {
        "Next-stage model: calibration",
        "Content model: calibration",
        "Next-stage model: feature importance",
        "Content model: feature importance",
        "Stage mix of the training events",
    }
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_tables_show_the_model_beside_every_baseline_best_in_bold(page, manifest):
    for model in ("next_stage", "content"):
        metrics = manifest["metrics"][model]
        names = ["model", *metrics["baselines"]]
        for name in names:
            assert f"<th scope='row'>{name}</th>" in page
        rows = [metrics["model"], *metrics["baselines"].values()]
        best_log_loss = min(row["log_loss"] for row in rows)
        assert f"<td><strong>{best_log_loss:.4f}</strong></td>" in page
        worst_log_loss = max(row["log_loss"] for row in rows)
        assert f"<td>{worst_log_loss:.4f}</td>" in page


def verdicts(page: str) -> list[str]:
    return re.findall(r"beats baselines: <span class='badge'>(yes|no)</span>", page)


def test_each_model_says_whether_it_beats_its_baselines(page, manifest):
    beats = [manifest["metrics"][model]["beats_baselines"] for model in ("next_stage", "content")]
    assert verdicts(page) == ["yes" if b else "no" for b in beats]
    flipped = copy.deepcopy(manifest)
    for model in ("next_stage", "content"):
        flipped["metrics"][model]["beats_baselines"] = not flipped["metrics"][model]["beats_baselines"]
    assert verdicts(render_training_report(flipped)) == ["no" if b else "yes" for b in beats]


def test_calibration_plots_one_series_per_model_and_baseline(page, manifest):
    plots = svgs(page)
    for model, title in (("next_stage", "Next-stage model"), ("content", "Content model")):
        plot = plots[f"{title}: calibration"]
        metrics = manifest["metrics"][model]
        rows = {"model": metrics["model"], **metrics["baselines"]}
        drawn = [name for name, row in rows.items() if row["calibration"]]
        assert plot.count("<polyline") == len(drawn)
        for name in rows:
            assert f">{name}<title>" in plot  # its legend entry
        assert plot.count("<circle") == sum(len(row["calibration"]) for row in rows.values())


def test_importance_shows_the_top_features_largest_first(page, manifest):
    plot = svgs(page)["Content model: feature importance"]
    gains = manifest["feature_importance"]["content"]
    ranked = sorted(gains, key=lambda name: -gains[name])
    assert plot.count("class='bar'") == min(TOP_FEATURES, len(ranked))
    labels = re.findall(r"text-anchor='end'>([^<]*)<title>", plot)
    assert labels == ranked[:TOP_FEATURES]
    if len(ranked) > TOP_FEATURES:
        assert f">{ranked[TOP_FEATURES]}<" not in plot


def test_stage_mix_lists_each_stage_with_its_count(page, manifest):
    plot = svgs(page)["Stage mix of the training events"]
    mix = manifest["data"]["stage_mix"]
    labels = re.findall(r"text-anchor='end'>([^<]*)<title>", plot)
    in_map = [stage for stage in manifest["journey"]["stages"] if stage in mix]
    assert labels[: len(in_map)] == in_map and set(labels) == set(mix)
    for count in mix.values():
        assert f">{count:,} (" in plot


def test_every_manifest_string_is_escaped(manifest):
    hostile = copy.deepcopy(manifest)
    attack = "<script>alert(1)</script>"
    hostile["version"] = attack
    hostile["data"]["paths"] = [attack]
    hostile["data"]["stage_mix"][attack] = 3
    hostile["libraries"][attack] = attack
    hostile["feature_importance"]["content"] = {attack: 1e9, **hostile["feature_importance"]["content"]}
    baselines = hostile["metrics"]["next_stage"]["baselines"]
    baselines[attack] = baselines.pop("base_rate")
    page = render_training_report(hostile)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_null_metrics_and_empty_curves_render(manifest):
    sparse = copy.deepcopy(manifest)
    for model in ("next_stage", "content"):
        metrics = sparse["metrics"][model]
        for row in [metrics["model"], *metrics["baselines"].values()]:
            row["auc_macro" if model == "next_stage" else "auc"] = None
            row["calibration"] = []
    sparse["metrics"]["next_stage"]["model"]["auc_per_class"] = {}
    sparse["metrics"]["content"]["model"]["ndcg@3"] = float("nan")
    sparse["feature_importance"] = {}
    page = render_training_report(sparse)
    assert "n/a" in page
    assert page.count("no test rows to bin") == 2
    assert "records no feature importance" in page
    assert page.count("<svg") == 3


def test_write_training_report_puts_the_page_beside_the_manifest(trained_registry, tmp_path):
    version = (trained_registry / "CURRENT").read_text().strip()
    bundle = tmp_path / version
    shutil.copytree(trained_registry / version, bundle)
    path = write_training_report(bundle)
    assert path == bundle / "report.html"
    assert version in path.read_text()


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_command_writes_the_current_versions_page(capsys, trained_registry, tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(trained_registry, registry)
    version = (registry / "CURRENT").read_text().strip()
    code, out, _ = run(capsys, "--registry", str(registry), "report")
    assert code == 0
    assert out.strip() == str(registry / version / "report.html")
    assert (registry / version / "report.html").read_text().startswith("<!doctype html>")
    (registry / version / "report.html").unlink()
    assert run(capsys, "--registry", str(registry), "report", version)[0] == 0
    assert (registry / version / "report.html").exists()


@pytest.mark.parametrize(
    "version, message",
    [
        ("20260101T000000Z-abcdef", "model version 20260101T000000Z-abcdef not found"),
        ("latest", "model version latest not found"),
        (None, "no current version"),
    ],
)
def test_report_command_refuses_an_unknown_version(capsys, tmp_path, trained_registry, version, message):
    registry = tmp_path / "registry"
    if version is not None:
        shutil.copytree(trained_registry, registry)
    code, out, err = run(capsys, "--registry", str(registry), "report", *([version] if version else []))
    assert code == 2 and out == ""
    assert message in err and "python -m training list" in err
