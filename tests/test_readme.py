"""The README's tour runs as written: every ``python`` block, in order."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_tour_runs_and_tells_the_story(capsys):
    namespace = {}
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert namespace["mcmc"].num_divergences > 10  # the centered funnel
    assert "Hint: the latent site 'theta' (in plate 'J')" in out
    assert namespace["fixed"].num_divergences <= 4  # the fix
    samples = namespace["samples"]
    assert abs(float(samples["mu"].mean()) - 4.4) < 0.4
    assert abs(float(samples["tau"].mean()) - 3.6) < 0.4
