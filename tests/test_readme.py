"""The README's Python API example runs as printed (with tiny stand-ins for the runs it loads by name)."""

import re
from pathlib import Path

import pytest

import seqgen

README = Path(__file__).resolve().parents[1] / "README.md"


def api_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_shown(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = {"hidden_size": 8, "device": "cpu", "progress": False}
    seqgen.train("translate", train_pairs=200, max_steps=3, eval_interval=3, embedding_dim=8, batch_size=16,
                 name="dates", **tiny)
    seqgen.train("forecast", epochs=3, ensemble=1, name="airline", **tiny)
    rows = [f"{1 + i % 2} " + " ".join(str((i % 2) * 2.0 + 0.1 * t) for t in range(12)) for i in range(16)]
    Path("beats.txt").write_text("\n".join(rows) + "\n")
    Path("new_beats.txt").write_text("\n".join(rows[:4]) + "\n")
    seqgen.train("classify", corpus="beats.txt", epochs=3, ensemble=1, name="ecg", **tiny)
    capsys.readouterr()

    namespace = {}
    exec(compile(api_example(), "README.md", "exec"), namespace)

    printed = capsys.readouterr().out
    assert printed.startswith("LADY SUSAN") and len(printed.strip()) > len("LADY SUSAN") + 150
    run = namespace["run"]
    assert run.step == 500 and namespace["model"].task == "language-model"
    resumed = seqgen.load(run.latest_path)
    assert resumed.payload["step"] == 600  # the resume in the example continued the same run
