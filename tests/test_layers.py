"""The layers depend one way (docs/architecture.md "Layers"): every import of our own packages, at the top of a
file or inside a function, is checked against the rules below.

    contract, data   the data's format and sources: import nothing else of ours (data may use contract)
    pipeline         the core (spec, artifacts, runner, metadata, fingerprint): no component, no CLI, no ops
    modeling         the model and its input function, shared by the trainer and the tuner: contract, STEP_API
    components/<x>   their own package, the core's step API (STEP_API), contract, data, modeling: no other component
    ops              cluster operations (Flink, podman, images, worker pools, the object store): the core, not
                     components or the CLI
    cli              the program on top: anything
    orchestration    orchestrators launching the CLI's tasks (Airflow, Kubeflow): the CLI, the core, contract
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OURS = ("pipeline", "components", "contract", "data", "modeling", "ops", "cli", "orchestration")
STEP_API = ("pipeline.spec", "pipeline.artifacts", "pipeline.fs", "pipeline.sections")   # sections: ConfigError, checks
ENTRY_POINTS = {"pipeline/__main__.py"}   # `python -m pipeline` is the program: it starts the CLI


def imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import of our packages; `from a import b` counts as a.b when a.b
    is one of our modules (so `from pipeline import console` is pipeline.console)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in OURS]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] in OURS:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (ROOT / (sub.replace(".", "/") + ".py")).exists() or (ROOT / sub.replace(".", "/")).is_dir()
                found.append((node.lineno, sub if is_module else node.module))
    return found


def allowed(file: str, module: str) -> bool:
    layer = file.split("/")[0]
    top = module.split(".")[0]
    if file in ENTRY_POINTS or layer == "cli":
        return True
    if layer == "contract":
        return top == "contract"
    if layer == "data":
        return top in ("data", "contract")
    if layer == "modeling":
        return top in ("modeling", "contract") or module in STEP_API
    if layer == "pipeline":
        return top in ("pipeline", "contract", "data")
    if layer == "ops":
        return top in ("ops", "pipeline", "contract", "data")
    if layer == "orchestration":
        return top in ("orchestration", "cli", "pipeline", "contract")
    if layer == "components":
        own = ".".join(file.split("/")[:2])   # components.<step>
        if top == "components":
            return module == "components" or module.startswith(own.replace("/", ".") + ".") or \
                module == own.replace("/", ".")
        return top in ("contract", "data", "modeling") or module in STEP_API
    return True


def violations(files) -> list[str]:
    bad = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for line, module in imports(path.read_text()):
            if not allowed(rel, module):
                bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_every_import_follows_the_layers():
    files = [p for pkg in OURS for p in (ROOT / pkg).rglob("*.py")]
    assert len(files) > 100
    assert violations(files) == []


def test_the_check_catches_each_kind_of_wrong_import(tmp_path, monkeypatch):
    cases = {
        "components/trainer/bad.py": "from pipeline import console\n",           # component -> console
        "components/evaluator/bad.py": "def f():\n    from components.trainer.model import build_model\n",
        "components/report/bad.py": "import cli.history\n",                       # component -> CLI
        "pipeline/bad.py": "from components.ingest.component import SPEC\n",      # core -> component
        "pipeline/bad2.py": "from ops import workers\n",                          # core -> cluster operations
        "ops/bad.py": "from cli.dag import components\n",                         # ops -> CLI
        "contract/bad.py": "from pipeline.fs import join\n",
        "modeling/bad.py": "from components.trainer.export import export_model\n",  # shared code -> a component
    }
    files = []
    for rel, text in cases.items():
        path = ROOT / rel
        files.append(path)
        monkeypatch.setattr(pathlib.Path, "read_text", _reader(cases), raising=True)
    found = violations(files)
    assert [f.split(":")[0] for f in found] == list(cases), found
    good = {"components/trainer/ok.py": "from pipeline.spec import ComponentSpec\nfrom components.trainer.model import x\n",
            "cli/ok.py": "from components.report.charts import line_chart\nfrom ops import workers\n",
            "ops/ok.py": "from pipeline.isolated import die_with_parent\n"}
    monkeypatch.setattr(pathlib.Path, "read_text", _reader(good), raising=True)
    assert violations([ROOT / rel for rel in good]) == []


def _reader(texts: dict):
    def read_text(self, *args, **kwargs):
        return texts[self.relative_to(ROOT).as_posix()]
    return read_text
