"""Real `strongroom-hsm` module processes joined into one domain by the
operator ceremony, run through the `strongroom operator` CLI exactly as
docs/deploy.md describes: three operator keys, a 2-of-3 quorum, each module
put in use mode, the domain created on the first and joined by the rest."""

import json
import socket
import subprocess
import tempfile
from pathlib import Path

from conftest import strongroom_bin


def hsm_bin() -> str:
    path = Path(strongroom_bin()).with_name("strongroom-hsm")
    if not path.exists():
        raise RuntimeError(f"{path} not found: build it with `cargo build -p strongroom-hsm` first")
    return str(path)


def free_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


class Module:
    """One module process in service mode; `kill()` pulls its cable."""

    def __init__(self, state: Path):
        self.addr = free_addr()
        state.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [hsm_bin(), "--listen", self.addr, "--state-dir", str(state), "--tamper-file", str(state / "TAMPER")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        first = json.loads(self.proc.stdout.readline())
        assert first["mode"] == "service", first

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ModuleFleet:
    """`count` modules in one domain that lists the frontend whose data
    directory is `frontend_dir` (its host key is made here)."""

    def __init__(self, count: int, frontend_dir: Path):
        self.work = tempfile.TemporaryDirectory(prefix="strongroom-fleet-")
        w = Path(self.work.name)
        self.modules = [Module(w / f"m{i}") for i in range(count)]
        try:
            for op in ("op1", "op2", "op3"):
                self.cli("operator", "keygen", "--name", op, "--out", f"{op}.key")
            self.cli("admin", "--data-dir", str(frontend_dir), "host-key")
            first = self.modules[0]
            create = ["create-domain", "--module", self.use_mode(first, "m0"), "--quorum", "2",
                      "--host", str(frontend_dir / "host.pub")]
            for op in ("op1", "op2", "op3"):
                create += ["--operator", f"{op}.key.pub"]
            self.submit("create", create, ["op1", "op2"], first, "--out", "t0.json")
            token = "t0.json"
            for i, m in enumerate(self.modules[1:], start=1):
                att = self.use_mode(m, f"m{i}")
                joined = f"t{i}.json"
                self.submit(f"add-m{i}", ["add-member", "--domain-token", token, "--module", att],
                            ["op1", "op2"], first, "--out", joined)
                self.submit(f"ingest-m{i}", ["ingest", "--domain-token", joined], ["op2", "op3"], m)
                token = joined
            self.token = str(w / token)
        except BaseException:
            self.stop()
            raise

    def cli(self, *args: str) -> str:
        out = subprocess.run([strongroom_bin(), *args], cwd=self.work.name, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, f"strongroom {args}: {out.stderr}"
        return out.stdout

    def submit(self, name: str, request: list, signers: list, module: Module, *extra: str):
        """Prepares a quorum command, has `signers` sign it, submits it to `module`."""
        f = f"{name}.cmd.json"
        self.cli("operator", "request", "--out", f, *request)
        for s in signers:
            self.cli("operator", "sign", f, "--key", f"{s}.key")
        self.cli("operator", "submit", f, "--hsm", module.addr, *extra)

    def use_mode(self, m: Module, name: str) -> str:
        att = f"{name}.att"
        self.cli("operator", "attest", "--hsm", m.addr, "--out", att)
        self.submit(f"use-{name}", ["enter-use-mode", "--module", att], ["op1"], m)
        return str(Path(self.work.name) / att)

    def frontend_args(self) -> list:
        """What `strongroom dev`/`admin` take to use this fleet."""
        args = ["--domain-token", self.token]
        for m in self.modules:
            args += ["--hsm", m.addr]
        return args

    def stop(self):
        for m in self.modules:
            m.kill()
        self.work.cleanup()

