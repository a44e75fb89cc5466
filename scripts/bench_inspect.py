"""The figures and pictures of docs/guides/lstm.md: a trained character model reads a passage it never trained on (the
last characters of its corpus, inside its test split); the page's own ranking names the units that follow a
feature of the text, beside the same ranking on an untrained network of the same shape (the baseline: what
chance correlations look like); the forget and input gates of the best line unit at line ends and elsewhere;
the gate saturation per layer; the time the explicit step takes against nn.LSTM's fused kernel; and the
peak memory of `seqgen inspect --save` on a long text beside a process that only loads the model. Writes
JSON and, with --docs, the pictures (the page screenshots need Chromium and chromedriver).

    seqgen train --corpus tinyshakespeare --max-time 10 --name shakespeare
    python scripts/bench_inspect.py checkpoints/shakespeare/best.pt --docs docs --output benchmarks/inspect-shakespeare.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import seqgen
from seqgen.inspect.features import FEATURE_NAMES, describe
from seqgen.models import LSTMLanguageModel
from seqgen.tasks.language_model.generate import LanguageModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def summary(inspection, top: int) -> dict:
    ranking = inspection.ranking(top)
    best = {}
    for name in inspection.features:
        if np.ptp(inspection.features[name]) == 0:
            continue
        from seqgen.inspect.features import correlations

        r = max(float(np.abs(correlations(inspection.gates[q].transpose(0, 2, 1).reshape(-1, inspection.steps),
                                          inspection.features[name][None])).max()) for q in ("c", "h"))
        best[name] = round(r, 3)
    return {"ranking": [{**e, "r": round(e["r"], 3), "described": describe(e)} for e in ranking],
            "best_abs_r_per_feature": best}


def gates_at_line_ends(inspection, layer: int, unit: int) -> dict:
    newline = np.array([label == "\n" for label in inspection.labels])
    out = {}
    for q in ("f", "i", "o"):
        values = inspection.gates[q][layer, :, unit]
        out[q] = {"at_newline": round(float(values[newline].mean()), 3),
                  "elsewhere": round(float(values[~newline].mean()), 3)}
    return out


def saturation(inspection) -> dict:
    shares = inspection.saturation()
    return {q: [{"layer": layer, "units": int(inspection.units),
                 "mostly_below_0.1": int((shares[q][layer][:, 0] > 0.5).sum()),
                 "mostly_above_0.9": int((shares[q][layer][:, 1] > 0.5).sum())}
                for layer in range(inspection.layers)] for q in ("i", "f", "o")}


def timing(model, text: str, repeats: int = 3) -> dict:
    """CPU seconds of inspect (the explicit step, one thread) against nn.LSTM's fused forward over the same text."""
    ids = torch.as_tensor(model.encode(text))[None]
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # seqgen's thread policy keeps to it too
    fused, explicit = [], []
    for _ in range(repeats):
        start = time.process_time()
        with torch.no_grad():
            model.model(ids)
        fused.append(time.process_time() - start)
        start = time.process_time()
        model.inspect(text)
        explicit.append(time.process_time() - start)
    return {"characters": len(text), "threads": 1, "nn_lstm_forward_cpu_s": round(min(fused), 4),
            "inspect_cpu_s": round(min(explicit), 4), "ratio": round(min(explicit) / min(fused), 1)}


def long_input(checkpoint: str, text: str, folder: Path) -> dict:
    """Peak memory of `seqgen inspect --save` on a long text, in a fresh process, beside a process that only loads
    the model (the baseline: what any command costs before reading), and the size of what was saved."""
    import subprocess
    import sys

    source = folder / "long.txt"
    source.write_text(text, encoding="utf-8")

    def peak(code: str) -> int:
        run = subprocess.run([sys.executable, "-c", "import resource, sys\n" + code +
                              "\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                             capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1]) // 1024  # MB

    loading = peak(f"import seqgen\nseqgen.load({checkpoint!r}, device='cpu')")
    start = time.time()
    inspecting = peak("from seqgen.cli import cli\n"
                      f"sys.argv = ['seqgen', 'inspect', {checkpoint!r}, '--text-file', {str(source)!r}, '--save', "
                      f"{str(folder / 'long.npz')!r}]\n"
                      "try:\n    cli.main(standalone_mode=False)\nexcept SystemExit:\n    pass")
    seconds = time.time() - start
    saved = np.load(folder / "long.npz")
    result = {"characters": len(text), "saved_mb": round((folder / "long.npz").stat().st_size / 2**20),
              "h_shape": list(saved["h"].shape), "peak_rss_mb_loading_the_model": loading,
              "peak_rss_mb_inspect_save": inspecting, "wall_s": round(seconds, 1)}
    (folder / "long.npz").unlink()
    source.unlink()
    return result


def screenshots(page: Path, docs: Path, line_unit: dict) -> list:
    """The page as a reader sees it: its top unit, the forget gate of the line unit, and the saturation panel."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,760",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    written = []
    try:
        driver.get(page.resolve().as_uri())
        driver.find_element(By.CSS_SELECTOR, "#ranking button").click()
        driver.execute_script("window.scrollTo(0, 0)")
        driver.find_element(By.CSS_SELECTOR, "#text .tok:nth-child(40)")
        from selenium.webdriver.common.action_chains import ActionChains

        tokens = driver.find_elements(By.CSS_SELECTOR, "#text .tok")
        ActionChains(driver).move_to_element(tokens[min(60, len(tokens) - 1)]).perform()
        driver.save_screenshot(str(docs / "lstm-page.png"))
        written.append(docs / "lstm-page.png")
        # the line unit's forget gate: pick layer, unit and quantity through the page's own controls
        unit_box = driver.find_element(By.ID, "unit")
        while driver.find_element(By.ID, "layer").text.split()[0] != str(line_unit["layer"]):
            driver.find_element(By.ID, "layer-next").click()
        unit_box.clear()
        unit_box.send_keys(str(line_unit["unit"]) + "\n")
        driver.find_element(By.CSS_SELECTOR, "#quantity-buttons button[data-q='f']").click()
        ActionChains(driver).move_to_element(tokens[next(t for t, s in enumerate(tokens) if s.text == "↵")]).perform()
        driver.save_screenshot(str(docs / "lstm-forget.png"))
        written.append(docs / "lstm-forget.png")
        driver.find_element(By.ID, "charts").screenshot(str(docs / "lstm-saturation.png"))
        written.append(docs / "lstm-saturation.png")
    finally:
        driver.quit()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--text-file", default=str(SHARED), help="the corpus the model trained on")
    parser.add_argument("--tail", type=int, default=3000, help="read its last N characters (its test split)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--docs", default=None, help="write the pictures into this folder")
    parser.add_argument("--long", type=int, default=200_000, help="characters of the long-input memory check (0: skip)")
    parser.add_argument("--output", default="benchmarks/inspect-shakespeare.json")
    args = parser.parse_args()

    text = Path(args.text_file).read_text(encoding="utf-8")[-args.tail:]
    text = text[text.index("\n") + 1:]  # start at a line
    trained = seqgen.load(args.checkpoint, device="cpu")
    inspection = trained.inspect(text)
    torch.manual_seed(0)
    untrained = LanguageModel(LSTMLanguageModel(trained.model.config).eval(), trained.tokenizer, trained.payload,
                              trained.device, trained.path)
    baseline = untrained.inspect(text)
    lines = [e for e in inspection.ranking(args.top) if e["feature"] == "line_position"]
    line_unit = max(lines, key=lambda e: gates_at_line_ends(inspection, e["layer"], e["unit"])["f"]["elsewhere"]
                    - gates_at_line_ends(inspection, e["layer"], e["unit"])["f"]["at_newline"]) if lines else None
    result = {
        "what": "units of a trained character LSTM that follow simple features of held-out text, beside an untrained "
                "network of the same shape",
        "checkpoint": str(args.checkpoint), "model": trained.payload["model_config"],
        "step": trained.payload.get("step"), "best_val_loss": trained.payload.get("best_val_loss"),
        "text": {"file": Path(args.text_file).name, "last_characters": len(text)},
        "features": {name: FEATURE_NAMES[name] for name in inspection.features},
        "trained": summary(inspection, args.top), "untrained_baseline": summary(baseline, args.top),
        "line_unit": line_unit and {**line_unit, "r": round(line_unit["r"], 3),
                                    "gates": gates_at_line_ends(inspection, line_unit["layer"], line_unit["unit"])},
        "saturation": saturation(inspection), "timing": timing(trained, text),
        "long_input": long_input(args.checkpoint, Path(args.text_file).read_text(encoding="utf-8")[:args.long],
                                 Path(tempfile.mkdtemp())) if args.long else None,
        "machine": {"platform": platform.platform(), "torch": torch.__version__,
                    "note": "2-core CPU shared with other jobs; times are CPU seconds on one thread"},
        "date": datetime.date.today().isoformat(),
    }
    if args.docs:
        docs = Path(args.docs)
        passage = text[:1200]
        shown = trained.inspect(passage)
        written = [shown.png(docs / "lstm-heatmap.png", columns=110)]
        page = inspection.html(Path(args.output).with_suffix(".html"))
        if shutil.which("chromedriver") and line_unit is not None:
            written += screenshots(page, docs, line_unit)
        result["pictures"] = [str(p) for p in written]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("line_unit", "timing", "long_input")}, indent=1))


if __name__ == "__main__":
    main()
