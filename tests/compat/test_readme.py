"""The README's boto3 example, run verbatim in a fresh process configured only
by the environment `strongroom dev` prints."""

import re
import subprocess
import sys

from conftest import ROOT


def test_readme_boto3_example_runs(server):
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "boto3.client(\"kms\")" in example
    out = subprocess.run(
        [sys.executable, "-c", example], env=server.process_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "b'hello'"
