"""Where the client is, and which version: an installed distribution (its metadata, and the
commit a VCS install records), an importable module without metadata (its ``__version__`` read as
text, never imported), or a checkout given as a path (its pyproject, ``__version__`` and git
HEAD, read as files: nothing of the client runs)."""

from __future__ import annotations

import re
from pathlib import Path

from orch_doctor._util.text import one_line
from orch_doctor.clients.types import ClientInstall
from orch_doctor.matrix.clients import ClientContract

_VERSION = re.compile(r"\d{1,6}(\.\d{1,6}){0,3}([.+-]?[0-9A-Za-z][0-9A-Za-z.+-]{0,40})?")
_DUNDER = re.compile(r"""^__version__\s*=\s*['"]([^'"\n]{1,60})['"]""", re.MULTILINE)
_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"refs/[A-Za-z0-9._/-]{1,200}")
_MAX_READ = 256 * 1024


def find_client(
    contract: ClientContract, checkout: str | Path | None = None, version: str | None = None
) -> tuple[ClientInstall | None, str]:
    """(the client found, or None, and why not)."""
    if version is not None:
        shown = _clean_version(version)
        if shown is None:
            return None, f"{one_line(version, 40)!r} is not a version"
        return ClientInstall(contract.name, shown, None, "", "given"), ""
    if checkout is not None:
        return from_checkout(contract, Path(checkout))
    return installed(contract)


def installed(contract: ClientContract) -> tuple[ClientInstall | None, str]:
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution(contract.distribution)
    except metadata.PackageNotFoundError:
        dist = None
    except (OSError, ValueError) as exc:
        return None, f"cannot read the metadata of {contract.distribution}: {exc}"
    if dist is not None:
        commit, where = _direct_url(dist)
        version = _clean_version(dist.version or "")
        if commit is None and where is not None:
            commit = git_head(Path(where))
        location = where or str(dist.locate_file(""))
        return (
            ClientInstall(contract.name, version, commit, location, f"installed {dist.name}"),
            "",
        )
    import importlib.util

    try:
        spec = importlib.util.find_spec(contract.module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return None, (
            f"{contract.name} is not installed here (no {contract.distribution} distribution, "
            f"no importable {contract.module!r} module); give its checkout with --orch PATH"
        )
    origin = Path(spec.origin)
    how = f"importable module {contract.module}"
    head = git_head(origin.parent.parent.parent)
    return ClientInstall(contract.name, _dunder(origin), head, str(origin), how), ""


def from_checkout(contract: ClientContract, path: Path) -> tuple[ClientInstall | None, str]:
    try:
        root = path.expanduser().resolve()
        if not root.is_dir():
            return None, f"{one_line(str(path), 200)}: not a directory"
    except (OSError, RuntimeError) as exc:
        return None, f"{one_line(str(path), 200)}: {exc}"
    version = _pyproject_version(root / "pyproject.toml")
    if version is None:
        version = _dunder(root / "src" / contract.module / "__init__.py") or _dunder(
            root / contract.module / "__init__.py"
        )
    commit = git_head(root)
    if version is None and commit is None:
        return None, (
            f"{one_line(str(root), 200)} has no pyproject version, no "
            f"{contract.module}/__init__.py __version__ and no git HEAD: "
            f"not a checkout of {contract.name}"
        )
    return ClientInstall(contract.name, version, commit, str(root), "--orch PATH"), ""


def git_head(root: Path) -> str | None:
    """The commit checked out at ``root`` (a checkout or a linked worktree), read from the files
    under .git; None when there is none or it cannot be read."""
    try:
        git = root / ".git"
        if git.is_file():
            text = _read(git)
            if not text or not text.startswith("gitdir: "):
                return None
            gitdir = (root / text[len("gitdir: ") :].strip()).resolve()
        elif git.is_dir():
            gitdir = git
        else:
            return None
        head = (_read(gitdir / "HEAD") or "").strip()
        if _SHA.fullmatch(head):
            return head
        if not head.startswith("ref: "):
            return None
        ref = head[len("ref: ") :].strip()
        if not _REF.fullmatch(ref) or ".." in ref:
            return None
        common = gitdir
        pointer = _read(gitdir / "commondir")
        if pointer:
            common = (gitdir / pointer.strip()).resolve()
        for base in (gitdir, common):
            value = (_read(base / ref) or "").strip()
            if _SHA.fullmatch(value):
                return value
        for line in (_read(common / "packed-refs") or "").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref and _SHA.fullmatch(sha):
                return sha
    except (OSError, RuntimeError, ValueError):
        return None
    return None


def _direct_url(dist: object) -> tuple[str | None, str | None]:
    """(the VCS commit, the local folder) a PEP 610 direct_url.json records."""
    import json

    read = getattr(dist, "read_text", None)
    try:
        text = read("direct_url.json") if read else None
        data = json.loads(text) if text else None
    except (OSError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    vcs = data.get("vcs_info")
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    url = data.get("url")
    where = url[len("file://") :] if isinstance(url, str) and url.startswith("file://") else None
    commit = commit if isinstance(commit, str) and _SHA.fullmatch(commit) else None
    return commit, where


def _pyproject_version(path: Path) -> str | None:
    import tomllib

    text = _read(path)
    if text is None:
        return None
    try:
        project = tomllib.loads(text).get("project")
    except (tomllib.TOMLDecodeError, RecursionError):
        return None
    version = project.get("version") if isinstance(project, dict) else None
    return _clean_version(version) if isinstance(version, str) else None


def _dunder(path: Path) -> str | None:
    text = _read(path)
    match = _DUNDER.search(text) if text else None
    return _clean_version(match.group(1)) if match else None


def _clean_version(text: str) -> str | None:
    text = text.strip()
    return text if _VERSION.fullmatch(text) else None


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            raw = fh.read(_MAX_READ)
    except OSError:
        return None
    return raw.decode("utf-8", errors="replace")
